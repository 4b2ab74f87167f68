"""Password guessing from outside, through nginx: two layers refuse it.

nginx answers login POSTs beyond its rate with 429 before Django sees them
(converge.yml: 10r/m, a burst of 5, per client address); django-axes locks out
a username from an address after 5 failures for 30 s (django_app_login_cooloff),
even with the right password. The tests leave nginx's allowance for the
scenario's other login tests (two POSTs) refilled."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from helpers import (APP, AXES_LOCKED, MANAGE, NGINX_LIMITED, login_form, post_login, post_login_past_nginx,
                     request)

COOLOFF = 30  # django_app_login_cooloff in converge.yml
SLOT = 6  # seconds nginx takes to allow one more POST at 10r/m


def limited_by_nginx(response) -> bool:
    return response.status == 429 and NGINX_LIMITED in response.body


def create_user(host) -> tuple[str, str]:
    user, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex + "Aa1!"
    host.check_output(f"{MANAGE} shell -c \"from django.contrib.auth.models import User; "
                      f"User.objects.create_user('{user}', password='{password}')\"")
    return user, password


def test_guessing_a_password_locks_the_pair_out_until_the_cooloff(host, published):
    port = published["https"]
    victim, password = create_user(host)
    other, other_password = create_user(host)
    form = login_form(port)

    answers = [post_login(port, form, victim, f"wrong-{attempt}") for attempt in range(10)]
    assert any(limited_by_nginx(answer) for answer in answers), [a.status for a in answers]
    # What Django answered, topped up past nginx's limit to six failures.
    answered = [answer for answer in answers if not limited_by_nginx(answer)]
    while len(answered) < 6:
        answered.append(post_login_past_nginx(port, form, victim, "wrong-again"))
    assert [answer.status for answer in answered[:4]] == [200] * 4  # the form again, with an error
    assert all(answer.status == 429 and AXES_LOCKED in answer.body for answer in answered[4:6])

    # The lockout names the user and the address nginx saw (not the socket's empty one).
    client = host.check_output("grep -F 'POST /accounts/login/' /var/log/nginx/access.log | tail -n 1").split()[0]
    log = host.check_output(f"cat /var/log/{APP}/security.log")
    locked = [line for line in log.splitlines() if "Locking out" in line and f'username: "{victim}"' in line]
    assert locked and f'ip_address: "{client}"' in locked[-1], log[-2000:]

    right = post_login_past_nginx(port, form, victim, password)
    assert right.status == 429 and AXES_LOCKED in right.body, right.body[:300]
    assert post_login_past_nginx(port, form, other, other_password).status == 302

    time.sleep(COOLOFF + 3)
    after = post_login_past_nginx(port, form, victim, password)
    assert after.status == 302, after.body[:300]


def test_a_login_flood_is_refused_by_nginx_and_the_site_still_answers(published):
    """Each POST that reached Django would cost a password hash in one of two workers:
    nginx refusing nearly all of them is what keeps the home page answering. How fast
    it answers is not asserted (a loaded test machine decides that); it must answer
    within the client's timeout, and the time is printed."""
    port = published["https"]
    form = login_form(port)

    def guess(_):
        # A new name each time: axes' per-user lockout alone would not stop this.
        return post_login(port, form, f"nobody{uuid.uuid4().hex[:8]}", "guess").status

    with ThreadPoolExecutor(max_workers=40) as pool:
        flood = pool.map(guess, range(120))
        time.sleep(1)
        started = time.monotonic()
        home = request(port, "/")
        waited = time.monotonic() - started
        statuses = list(flood)
    print(f"home page during the flood: {waited:.2f} s; {statuses.count(429)} of 120 POSTs refused")
    assert home.status == 200
    assert statuses.count(429) >= 105 and set(statuses) <= {200, 429}, statuses
    time.sleep(3 * SLOT)
