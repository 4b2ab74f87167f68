"""The example Django project deployed by the django_app role."""
