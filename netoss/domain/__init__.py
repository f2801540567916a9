"""Domain floor: jobs, faults, compliance and provisioning. Nothing here imports Flask or the web floor."""
