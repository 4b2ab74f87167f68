"""Uploads: public ones are not kept by shared caches; private ones are handed
out only through the app's permission check (X-Accel-Redirect), never by URL."""

import uuid

from helpers import APP, BASE, MANAGE, login_form, post_login_past_nginx, request
from testlib import response_cookies as cookies

PRIVATE = f"{BASE}/private-media"


def signed_in_cookie(host, port: int) -> str:
    user, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex + "Aa1!"
    host.check_output(f"{MANAGE} shell -c \"from django.contrib.auth.models import User; "
                      f"User.objects.create_user('{user}', password='{password}')\"")
    login = post_login_past_nginx(port, login_form(port), user, password)
    assert login.status == 302, login.body[:300]
    return f"__Host-sessionid={cookies(login)['__Host-sessionid'].value}"


def test_uploads_are_not_kept_by_shared_caches(host, published):
    name = f"{uuid.uuid4().hex[:8]}.txt"
    host.check_output(f"runuser -u {APP} -- sh -c 'umask 027; echo public > {BASE}/media/{name}'")
    response = request(published["https"], f"/media/{name}")
    assert response.status == 200 and response.getheader("Cache-Control").startswith("private")


def test_a_private_file_needs_the_apps_permission(host, published):
    port = published["https"]
    name = f"invoices/{uuid.uuid4().hex[:8]}.txt"
    host.check_output(f"runuser -u {APP} -- sh -c 'umask 027; mkdir -p {PRIVATE}/invoices && "
                      f"echo confidential > {PRIVATE}/{name}'")
    # Strangers: sent to the login page by the app; the internal prefix is not a URL at all.
    anonymous = request(port, f"/private/{name}")
    assert anonymous.status == 302 and "/accounts/login/" in anonymous.getheader("Location")
    for path in (f"/_private_media/{name}", f"/media/../private-media/{name}", "/private/../../etc/passwd"):
        assert b"confidential" not in request(port, path).body, path
    assert request(port, f"/_private_media/{name}").status == 404

    granted = request(port, f"/private/{name}", headers={"Cookie": signed_in_cookie(host, port)})
    assert granted.status == 200 and granted.body == b"confidential\n"
    assert granted.getheader("Cache-Control") == "private, no-store"
    assert granted.getheader("Content-Type").startswith("text/plain")
    assert "sandbox" in granted.getheader("Content-Security-Policy")
