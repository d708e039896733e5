"""Static HTML pages: a self-contained report of explanations a person can listen to and check."""

from spokenemo.apps.web.page import ClipResult, write_explanation_page

__all__ = ["ClipResult", "write_explanation_page"]
