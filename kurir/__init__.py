"""kurir: a self-hostable messenger of Telegram's class."""

__version__ = "0.1.0"
