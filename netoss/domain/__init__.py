"""Domain floor: jobs, faults, compliance and provisioning. Nothing here imports Flask or the web
floor; the rooms tell each other about events by signals, connected in ``wiring``."""
