"""Pure (sans-IO) protocol codecs shared by the listener and the processors."""
