import socket

import django
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

import exampleapp

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
    """Liveness for monitors and tests: is the app up, did it see the request as HTTPS, and
    which app host answered (behind a load balancer)?"""
    return JsonResponse({
        "status": "ok",
        "secure": request.is_secure(),
        "version": exampleapp.VERSION,
        "django": django.get_version(),
        "entries": Entry.objects.count(),
        "host": socket.gethostname(),
    })
