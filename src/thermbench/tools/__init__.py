"""Project tooling, one subpackage per concern: `pipeline` (running DVC), `gates` (regression, conclusions),
`publish` (README, post, plots), `reports` (the report stages' computations), `submissions`, `measure` (calibrations,
power, scale); `library_help` is shared by all of them."""
