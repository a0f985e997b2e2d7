"""Companies by sender domain, and the free-mail domains that never make one."""
