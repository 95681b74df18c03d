"""Subcommands of `creditbot`, one module each; `bot.cli` registers them."""
