"""antrean: appointment booking and patient queue for clinics and hospitals."""

__version__ = "0.1.0"
