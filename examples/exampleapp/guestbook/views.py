from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils._os import safe_join
from django.views.decorators.cache import never_cache

from .forms import EntryForm
from .models import Entry


def home(request):
    return render(request, "home.html")


@login_required
def guestbook(request):
    form = EntryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        entry = form.save(commit=False)
        entry.author = request.user
        entry.save()
        return redirect("guestbook")
    return render(request, "guestbook/guestbook.html", {"form": form, "entries": Entry.objects.all()[:20]})


@never_cache
def health(request):
    """Liveness for monitors and load balancers: the app is up and its database answers.
    Nothing else: a public page must not tell an attacker versions or host names."""
    Entry.objects.exists()
    return JsonResponse({"status": "ok"})


@login_required
def private_file(request, name):
    """A file from PRIVATE_MEDIA_ROOT, for signed-in users only: Django decides, nginx sends
    it (X-Accel-Redirect to its internal PRIVATE_MEDIA_URL). A real project checks more
    than login here (the file's owner, a permission)."""
    root = getattr(settings, "PRIVATE_MEDIA_ROOT", "")
    if not root:
        raise Http404
    try:
        path = safe_join(root, name)
    except SuspiciousFileOperation:
        raise Http404 from None
    if not Path(path).is_file():
        raise Http404
    response = HttpResponse()
    del response["Content-Type"]  # nginx sets the file's own type
    response["X-Accel-Redirect"] = settings.PRIVATE_MEDIA_URL + quote(name)
    return response
