"""Delivery channels. The embedded default is the file channel (``file.py``)."""
