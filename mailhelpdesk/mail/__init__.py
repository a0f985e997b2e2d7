"""Reading mail: parsing, charsets, HTML to text, the new text of a reply, subjects."""
