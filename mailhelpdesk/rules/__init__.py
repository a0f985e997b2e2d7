"""The admins' YAML surface: rules, and the companies they can seed."""
