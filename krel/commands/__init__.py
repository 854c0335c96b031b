"""One module per subcommand; each defines register(app). Only working commands are registered."""
