"""netoss portal: the Flask app, the stack manager and the netoss CLI."""
