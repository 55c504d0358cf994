"""Publishing: the README and docs numbers, the blog post and its catalog, DVC plots, the browser check."""
