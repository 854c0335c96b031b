"""Built-in release profiles (TOML files shipped as package data)."""
