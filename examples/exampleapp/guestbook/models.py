from django.conf import settings
from django.db import models


class Entry(models.Model):
    """One guestbook message, written by a logged-in user."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.CharField(max_length=500)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "entries"

    def __str__(self):
        return self.text[:50]
