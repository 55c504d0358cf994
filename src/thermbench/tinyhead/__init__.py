"""Blog part 2: a TinyHead trained on a frozen backbone's cached features from 40 labelled crops."""
