"""End-to-end tests: the real ``mailhelpdesk`` command line on real files and databases."""
