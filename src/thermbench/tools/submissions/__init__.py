"""Users' submissions: example submissions in the accepted formats, and the check of submissions.yaml."""
