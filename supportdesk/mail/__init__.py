"""Mail in: bytes to messages (parse), charsets, HTML to text, robots and safe file names."""
