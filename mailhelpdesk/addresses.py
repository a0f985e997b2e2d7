"""Plain e-mail address helpers shared by transports and steps."""


def base_address(address: str) -> str:
    """The address without its plus-extension: ``support+1042.sig@x`` → ``support@x``."""
    local, _, domain = address.lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def is_ours(address: str, ours: frozenset[str]) -> bool:
    """Whether ``address`` (plus-addressed or not) is one of our own addresses."""
    return address.lower() in ours or base_address(address) in ours
