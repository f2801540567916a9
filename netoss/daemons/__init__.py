"""The long-running processes of netoss: the job worker, the fault receivers and the fault
processor. Each is one function the `netoss` CLI calls after parsing its options."""
