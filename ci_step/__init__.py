"""mendix-build: build a Mendix deployment package from a CI pipeline."""

__version__ = "0.1.0"
