"""One thin module per subcommand; each exposes `register(app)`."""
