"""The example Django project deployed by the django_app role."""

# Shown by the health endpoint, so a test can tell which release answers.
VERSION = "1"
