"""Jobs: templates as code (job_templates.py); running them comes with the worker."""
