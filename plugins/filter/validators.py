# Copyright: the hardening.stack authors. MIT License.
"""Input validators of the hardening.stack roles, one per rule.

Every filter takes the value first and the NAME of the variable it came from
second, and returns a list of error messages that name that variable (an
empty list means the value is valid). A role's tasks/validate.yml asserts
`errors | length == 0` and shows the joined errors:

    - name: Check the site's names
      ansible.builtin.assert:
        that: errors | length == 0
        fail_msg: "{{ errors | join('; ') }}"
        quiet: true
      vars:
        errors: "{{ nginx_server_names | hardening.stack.hostname_errors('nginx_server_names') }}"

One filter is a helper rather than a check: authorized_key_part gives the
key of an authorized_keys line without its options, for ssh-keygen.

Types and choices belong to each role's meta/argument_specs.yml; these
filters check what an argument spec cannot express. Role argument
validation checks that a value CAN be converted but leaves the variable as
given, so the filters accept what the spec accepts (e.g. a port as "22") and
refuse what would slip through (True as a number, "yes" as a boolean).

Pure Python (standard library only): tests/unit/test_validators.py loads this
file by path, without Ansible or the collection installed.
"""

import ipaddress
import json
import os.path
import re
import urllib.parse

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LABEL_RE = re.compile(rf"^{_LABEL}$")
_DIGITS_RE = re.compile(r"^[0-9]+$")
# Absolute paths and relative paths: no spaces, quotes, ';' or other characters
# a config file or a shell would read differently.
_PATH_CHARS_RE = re.compile(r"^[A-Za-z0-9._/-]*$")
_ACCOUNT_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# crypt(5) hashes glibc verifies: yescrypt, gost-yescrypt, SHA-512, SHA-256, bcrypt.
_CRYPT_RE = re.compile(r"^\$(?:y|gy|6|5|2b)\$[./A-Za-z0-9$=,]{20,}$")
_FILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_MODULE_RE = re.compile(rf"^{_IDENTIFIER}(?:\.{_IDENTIFIER})*$")
_CALLABLE_RE = re.compile(rf"^{_IDENTIFIER}(?:\.{_IDENTIFIER})*:{_IDENTIFIER}$")
# Characters a Django SECRET_KEY may hold: it is written single-quoted to the
# environment file, so no quotes, spaces, backslash or $.
_SECRET_KEY_RE = re.compile(r"^[A-Za-z0-9!#%()*+,./:;<=>?@\[\]^_{|}~-]+$")
_SECRET_KEY_CHARS = "letters, digits and !#%()*+,-./:;<=>?@[]^_{|}~"
_ADMIN_URL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*(?:/[A-Za-z0-9._~-]+)*/$")
_URL_PATH_RE = re.compile(r"^/(?:[A-Za-z0-9._~%@+-]+/)*$")
_EXACT_URL_PATH_RE = re.compile(r"^/(?:[A-Za-z0-9._~%@+-]+/)*[A-Za-z0-9._~%@+-]*$")
_RATE_RE = re.compile(r"^[1-9][0-9]*r/[sm]$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HTTPS_URL_RE = re.compile(r"^https://[^\s/]+(?:/\S*)?$")
_DATABASE_URL_RE = re.compile(r"""^postgres(?:ql)?://[^\s'"\\/]*/[^\s'"\\/?]+(?:\?[^\s'"\\]*)?$""")
_SIZE_RE = re.compile(r"^[0-9]+[kKmMgG]?$")
_DURATION_RE = re.compile(r"^[0-9]+(?:ms|s|m|h)?$")
_CSP_DIRECTIVE_RE = re.compile(r"^[a-z][a-z-]*$")
_CSP_SOURCE_RE = re.compile(r"^[^\s;,\"\\]+$")
_ANY_SOURCES = ("any", "0.0.0.0/0", "::/0", "*")
_TRUE_WORDS = ("true", "yes", "on", "1", "y", "t")


def _show(value):
    """The value as the operator wrote it (JSON where possible)."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _is_list(value):
    return isinstance(value, (list, tuple))


def _each(value, name, check, min_items=0, what="entries"):
    """Errors of check(item, f"{name}[i]") for every item of the list value."""
    if not _is_list(value):
        return [f"{name} must be a list of {what}, got {_show(value)}"]
    if len(value) < min_items:
        count = "must not be empty" if min_items == 1 else f"must have at least {min_items} entries"
        return [f"{name} {count}: it must list {what}, got {_show(value)}"]
    errors = []
    for index, item in enumerate(value):
        errors.extend(check(item, f"{name}[{index}]"))
    return errors


def _hostname_problem(host, require_dot=False, allow_leading_dot=False):
    """Why host is not a lowercase DNS name, or None."""
    if not isinstance(host, str) or host == "":
        return "is not a host name"
    text = host
    if allow_leading_dot and text.startswith("."):
        text = text[1:]
    if "://" in text:
        return "is a URL: give the bare host name, without a scheme"
    if "*" in text:
        return "is a wildcard (not allowed)"
    if ":" in text or text.startswith("[") or _is_ip(text):
        return "is an IP address or has a port (give a DNS name only)"
    if text != text.lower():
        return "has upper-case letters (use lower case)"
    if text.endswith("."):
        return "ends with a dot (no trailing dot)"
    if text.startswith("."):
        return ("starts with a dot (only allowed as a single leading dot admitting subdomains)"
                if allow_leading_dot else "starts with a dot")
    if len(text) > 253:
        return f"is {len(text)} characters long (at most 253)"
    labels = text.split(".")
    for label in labels:
        if len(label) > 63:
            return f"has a label of {len(label)} characters (at most 63)"
        if not _LABEL_RE.fullmatch(label):
            return (f"has an invalid label {_show(label)} (letters a-z, digits and inner hyphens; "
                    "no empty labels)")
    if _DIGITS_RE.fullmatch(labels[-1]):
        return "ends in an all-numeric label (an IP address is not a host name)"
    if require_dot and len(labels) < 2:
        return "is a single label (a fully qualified name with a dot is needed)"
    return None


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def hostname_errors(value, name, require_dot=False, allow_leading_dot=False, min_items=1):
    """Errors for a list of host names: lowercase DNS names, labels <= 63, total <= 253.

    No wildcard, IP address, port, scheme or trailing dot. require_dot: a
    fully qualified name (certificates); allow_leading_dot: ".example.com"
    admits subdomains (Django's ALLOWED_HOSTS). At least min_items names.
    """
    def check(host, where):
        problem = _hostname_problem(host, require_dot, allow_leading_dot)
        return [f"{where} {_show(host)} {problem}"] if problem else []

    return _each(value, name, check, min_items, "lowercase DNS names")


def _port_problem(value):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return "must be a port number 1-65535"
    text = str(value).strip() if isinstance(value, str) else str(value)
    if not _DIGITS_RE.fullmatch(text):
        return "must be a port number 1-65535"
    if not 1 <= int(text) <= 65535:
        return "is out of range (ports are 1-65535)"
    return None


def port_errors(value, name, many=False, min_items=0):
    """Errors for a TCP/UDP port: 1-65535, an int or a string of digits, never a boolean.

    many: value is a list of ports (at least min_items), each checked.
    """
    def check(port, where):
        problem = _port_problem(port)
        return [f"{where} {_show(port)} {problem}"] if problem else []

    if many:
        return _each(value, name, check, min_items, "port numbers")
    return check(value, name)


def _path_problem(value, suffix=""):
    if not isinstance(value, str) or not value.startswith("/"):
        return "must be an absolute path"
    if not _PATH_CHARS_RE.fullmatch(value):
        return "may hold only letters, digits and . _ - / (no spaces, quotes or ';')"
    if value != "/" and value.endswith("/"):
        return "must not end with '/'"
    if value == "/":
        return "must not be the root directory"
    if any(part in (".", "..") for part in value.split("/")):
        return "must not hold '.' or '..' components"
    if "//" in value:
        return "must not hold '//'"
    if suffix and (not value.endswith(suffix) or value.endswith("/" + suffix)):
        return f"must end in {suffix}"
    return None


def path_errors(value, name, allow_empty=False, suffix="", many=False):
    """Errors for an absolute path: letters, digits, . _ - /; no '..', '//' or trailing '/'.

    allow_empty: "" is accepted (a feature turned off); suffix: the file name
    must end so (e.g. ".sock"); many: value is a list of such paths.
    """
    def check(path, where):
        if allow_empty and path == "":
            return []
        problem = _path_problem(path, suffix)
        return [f"{where} {problem}, got {_show(path)}"] if problem else []

    if many:
        return _each(value, name, check, 0, "absolute paths")
    return check(value, name)


def relative_path_errors(value, name, allow_empty=False):
    """Errors for a path relative to a directory: letters, digits, . _ - /; no '..'; not absolute."""
    if allow_empty and value == "":
        return []
    if not isinstance(value, str) or value == "" or not _PATH_CHARS_RE.fullmatch(value):
        return [f"{name} must be a relative path of letters, digits and . _ - /, got {_show(value)}"]
    if value.startswith("/") or value.endswith("/") or any(part in ("", ".", "..") for part in value.split("/")):
        return [f"{name} must be a relative path to a file (no leading or trailing '/', '.', '..' or '//'), "
                f"got {_show(value)}"]
    return []


def file_name_errors(value, name):
    """Errors for a plain file name: starts with a letter or digit, then letters, digits, . _ -."""
    if not isinstance(value, str) or not _FILE_NAME_RE.fullmatch(value):
        return [f"{name} must be a plain file name (letters, digits, . _ -; no '/'), got {_show(value)}"]
    return []


def secret_key_errors(value, name, allow_empty=False):
    """Errors for a Django SECRET_KEY: >= 50 characters, >= 5 distinct, no django-insecure-
    prefix, only characters the environment file carries single-quoted.

    allow_empty: "" is accepted (a key is then generated on the host).
    """
    if allow_empty and value == "":
        return []
    if not isinstance(value, str):
        return [f"{name} is weak: it must be a string, got a {type(value).__name__}"]
    problems = []
    if len(value) < 50:
        problems.append(f"it has {len(value)} characters (at least 50 needed)")
    if len(set(value)) < 5:
        problems.append(f"it has {len(set(value))} distinct characters (at least 5 needed)")
    if value.startswith("django-insecure-"):
        problems.append("it starts with django-insecure- (Django's throw-away development keys)")
    if value and not _SECRET_KEY_RE.fullmatch(value):
        problems.append(f"it may hold only {_SECRET_KEY_CHARS} (no quotes, spaces, backslash or $)")
    return [f"{name} is weak: {problem}" for problem in problems]


def integer_errors(value, name, minimum=0, maximum=None):
    """Errors for a whole number (an int or a string of digits, never a boolean or a float)
    between minimum and maximum (inclusive; maximum None: no upper bound)."""
    bound = f">= {minimum}" if maximum is None else f"{minimum}-{maximum}"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return [f"{name} must be a whole number {bound}, got {_show(value)}"]
    text = value.strip() if isinstance(value, str) else str(value)
    if not re.fullmatch(r"^-?[0-9]+$", text):
        return [f"{name} must be a whole number {bound}, got {_show(value)}"]
    number = int(text)
    if number < minimum or (maximum is not None and number > maximum):
        return [f"{name} must be a whole number {bound}, got {_show(value)}"]
    return []


def boolean_errors(value, name):
    """Errors unless value is a real boolean: "no" would be a true string in a template."""
    if not isinstance(value, bool):
        return [f"{name} must be true or false (a YAML boolean), got {_show(value)}"]
    return []


def false_errors(value, name, reason=""):
    """Errors unless value is false (the boolean, or a word Ansible reads as false)."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("false", "no", "off", "0", "n", "f")):
        return []
    suffix = f" ({reason})" if reason else ""
    return [f"{name} must be false, got {_show(value)}{suffix}"]


def debug_errors(value, name):
    """Errors unless DEBUG is off: production never runs with DEBUG = True."""
    return false_errors(value, name, "production never runs with DEBUG = True")


def choice_errors(value, name, choices):
    """Errors unless value is one of choices (for choices only known at run time)."""
    if value not in list(choices):
        return [f"{name} must be one of {_show(list(choices))}, got {_show(value)}"]
    return []


def required_errors(value, name, what="a value"):
    """Errors if value is empty (None, "" or an empty list)."""
    if value is None or (isinstance(value, (str, list, tuple, dict)) and len(value) == 0):
        return [f"{name} must be set ({what})"]
    return []


def exactly_one_errors(values):
    """Errors unless exactly one of the {name: value} mapping is set (non-empty)."""
    names = list(values)
    set_names = [key for key, value in values.items() if value not in (None, "", [], {})]
    if len(set_names) != 1:
        got = "both" if len(set_names) > 1 else "neither"
        return [f"set exactly one of {' and '.join(names)} (got {got})"]
    return []


def at_least_one_errors(values):
    """Errors unless at least one of the {name: value} mapping is set (non-empty)."""
    if all(value in (None, "", [], {}) for value in values.values()):
        return [f"set at least one of {' and '.join(values)} (got neither)"]
    return []


def together_errors(values, reason=""):
    """Errors unless the {name: value} mapping is set all together or not at all (REASON says why)."""
    empty = [name for name, value in values.items() if value in (None, "", [], {})]
    if empty and len(empty) < len(values):
        return [f"{' and '.join(empty)} must be set with {' and '.join(n for n in values if n not in empty)}"
                + (f" ({reason})" if reason else "")]
    return []


def account_name_errors(value, name):
    """Errors for a Linux user or group name: lowercase, starts with a letter or _, <= 32 characters."""
    if not isinstance(value, str) or not _ACCOUNT_RE.fullmatch(value):
        return [f"{name} must be a valid user/group name (lowercase letters, digits, _ and -, "
                f"starting with a letter or _, at most 32 characters), got {_show(value)}"]
    return []


def admin_users_errors(value, name):
    """Errors for operator accounts: at least one, each a valid name other than root, with keys.

    Root login and passwords are turned off, so these accounts are how anyone
    logs in afterwards.
    """
    def check(user, where):
        if not isinstance(user, dict):
            return [f"{where} must be a dict with name and authorized_keys"]
        errors = account_name_errors(user.get("name"), f"{where}.name")
        if user.get("name") == "root":
            errors.append(f"{where}.name must not be root (root login is disabled; use a regular account)")
        keys = user.get("authorized_keys")
        if not _is_list(keys) or len(keys) == 0:
            errors.append(f"{where}.authorized_keys must list at least one public key "
                          f"(key-only login), got {_show(keys)}")
        return errors + sudo_password_errors(user, where)

    errors = _each(value, name, check, 1, "admin users (someone must be able to log in with a key)")
    return errors


def sudo_password_errors(user, where):
    """Errors for an admin's sudo password: `sudo: password` needs a password_hash, which is a crypt hash.

    The account is created without a password (key-only), so without the hash
    sudo would ask for a password that does not exist. The hash itself is never shown.
    """
    password_hash = user.get("password_hash") or ""
    if password_hash and (not isinstance(password_hash, str) or not _CRYPT_RE.fullmatch(password_hash)):
        return [f"{where}.password_hash must be a crypt hash such as `mkpasswd -m yescrypt` or "
                "`openssl passwd -6` prints ($y$..., $6$...), not the password itself"]
    if user.get("sudo") == "password" and not password_hash:
        return [f"{where}.sudo is password but {where}.password_hash is empty: the account has no password "
                "to type (set a vaulted hash, and give Ansible the password as ansible_become_password)"]
    return []


# An authorized_keys line as sshd(8) reads it (AUTHORIZED_KEYS FILE FORMAT):
# a line that starts with a key type has no options; otherwise a
# comma-separated list of options comes first, up to the first space or tab
# outside double quotes, then the key. Option names are case-insensitive.
_KEY_START_RE = re.compile(r"^(?:ssh-|ecdsa-|sk-)")
_KEY_OPTION_NAME_RE = re.compile(r"[A-Za-z0-9-]+")
_KEY_OPTION_FLAGS = frozenset({
    "agent-forwarding", "cert-authority", "no-agent-forwarding", "no-port-forwarding", "no-pty",
    "no-touch-required", "no-user-rc", "no-x11-forwarding", "port-forwarding", "pty", "restrict",
    "user-rc", "verify-required", "x11-forwarding",
})
_KEY_OPTION_VALUES = frozenset({
    "command", "environment", "expiry-time", "from", "permitlisten", "permitopen", "principals", "tunnel",
})
# The key types ansible.posix.authorized_key knows: it splits a line at
# whitespace and takes the first of these words as the key type.
_MODULE_KEY_TYPES = frozenset({
    "ssh-ed25519", "ssh-rsa", "ssh-dss", "ssh-xmss@openssh.com", "rsa-sha2-256", "rsa-sha2-512",
    "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com", "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
})


def split_authorized_key(line):
    """(options, key) of one authorized_keys line; raises ValueError saying what is wrong.

    options is the prefix exactly as written ("" when there is none), key
    the rest ("TYPE BASE64 [comment]"). Parsed as sshd parses it: known option
    names only, a value only where the option takes one, always in double
    quotes, where spaces, commas and \\" may appear.
    """
    text = str(line).strip()
    if _KEY_START_RE.match(text):
        return "", text
    pos = 0
    while True:
        match = _KEY_OPTION_NAME_RE.match(text, pos)
        if not match:
            raise ValueError(f"expected an option name at character {pos + 1}")
        name, pos = match.group(0).lower(), match.end()
        if name not in _KEY_OPTION_FLAGS | _KEY_OPTION_VALUES:
            raise ValueError(f"unknown option {_show(match.group(0))}")
        if text.startswith("=", pos):
            if name not in _KEY_OPTION_VALUES:
                raise ValueError(f"option {name} takes no value")
            if not text.startswith('"', pos + 1):
                raise ValueError(f"the value of {name} must be in double quotes")
            start = pos = pos + 2
            while pos < len(text) and text[pos] != '"':
                pos += 2 if text.startswith('\\"', pos) else 1
            if pos >= len(text):
                raise ValueError(f"the value of {name} has no closing double quote")
            if pos == start:
                raise ValueError(f"the value of {name} is empty")
            pos += 1
        elif name in _KEY_OPTION_VALUES:
            raise ValueError(f'option {name} needs a value ({name}="...")')
        if pos >= len(text):
            raise ValueError("there is no key after the options")
        if text[pos] in " \t":
            return text[:pos], text[pos:].strip()
        if text[pos] != ",":
            raise ValueError(f"unexpected {_show(text[pos])} after option {name} (options are separated by commas)")
        pos += 1


def authorized_key_part(line):
    """The key ("TYPE BASE64 [comment]") of an authorized_keys line without its options.

    A line that does not parse is returned whole: ssh_keygen_errors reports why.
    """
    try:
        return split_authorized_key(line)[1]
    except ValueError:
        return str(line).strip()


def _key_options_problem(options):
    """Why ansible.posix.authorized_key would not write these options as given, or None."""
    if re.search(r"\s\s|[^\S ]", options):
        return "holds a tab or several spaces in a row, which would be written as one space"
    words = set(options.split(" ")[1:])
    if words & _MODULE_KEY_TYPES:
        return f"holds the word {_show(sorted(words & _MODULE_KEY_TYPES)[0])}, which would be taken for the key type"
    return None


def ssh_keygen_errors(results, name, required_rsa_size=3072):
    """Errors of the authorized keys, from `ssh-keygen -l -f /dev/stdin` run on each key.

    results: the registered loop results of that command over
    `users | subelements('authorized_keys')` (item is [user, line]), its stdin
    the key without options (authorized_key_part). A line may start with
    options (`from="10.0.0.0/8",restrict ssh-ed25519 AAAA... comment`), which
    must be options sshd accepts and that the authorized_key module writes
    unchanged.
    """
    errors = []
    for result in results or []:
        if result.get("skipped"):
            continue
        user, line = result["item"][0], result["item"][1]
        where = f"{name}[{user.get('name')}].authorized_keys"
        shown = _show(line if len(str(line)) <= 40 else str(line)[:37] + "...")
        stdout = str(result.get("stdout", "")).strip()
        if "PRIVATE KEY" in str(line):
            errors.append(f"{where}: {shown} is a PRIVATE key; give the public key")
            continue
        try:
            options, key = split_authorized_key(line)
        except ValueError as error:
            errors.append(f"{where}: {shown} is not a usable public key (it does not start with a key type, and "
                          f"read as options before a key: {error}); it must be one line in authorized_keys format "
                          "(e.g. \"ssh-ed25519 AAAA... comment\", optionally after options such as "
                          "'from=\"10.0.0.0/8\",restrict ')")
            continue
        problem = _key_options_problem(options) if options else None
        if result.get("rc") != 0 or not _KEY_START_RE.match(key):
            detail = str(result.get("stderr", "")).strip() or stdout or str(result.get("msg", "")).strip()
            errors.append(f"{where}: {shown} is not a usable public key ({detail}); it must be one line in "
                          "authorized_keys format (e.g. \"ssh-ed25519 AAAA... comment\")")
        elif stdout.endswith("(RSA)") and int(stdout.split()[0]) < int(required_rsa_size):
            errors.append(f"{where}: {shown} is an RSA key of {stdout.split()[0]} bits; sshd refuses RSA keys "
                          f"under {required_rsa_size} bits (ssh_hardening_required_rsa_size)")
        elif problem:
            errors.append(f"{where}: {shown}: the options {problem}; write them without it")
    return errors


def module_errors(value, name, with_callable=False, allow_empty=False):
    """Errors for a dotted Python module name (with_callable: MODULE:CALLABLE, as gunicorn takes;
    allow_empty: "" is accepted, found in the project instead)."""
    if allow_empty and value == "":
        return []
    pattern, example = (_CALLABLE_RE, "exampleapp.wsgi:application") if with_callable \
        else (_MODULE_RE, "exampleapp.settings")
    if not isinstance(value, str) or not pattern.fullmatch(value):
        what = "MODULE:CALLABLE" if with_callable else "a dotted module name"
        return [f"{name} must be {what} such as {example}, got {_show(value)}"]
    return []


def url_path_errors(value, name):
    """Errors for a URL path prefix: starts and ends with '/' (e.g. /static/), no spaces, ';', '..'."""
    if not isinstance(value, str) or not _URL_PATH_RE.fullmatch(value) or "/../" in value or "/./" in value:
        return [f"{name} must be a URL path starting and ending with '/' (e.g. \"/static/\"; letters, digits "
                f"and . _ ~ % @ + -, no '..'), got {_show(value)}"]
    return []


def _exact_url_path_problem(value):
    if not isinstance(value, str) or not _EXACT_URL_PATH_RE.fullmatch(value) \
            or any(part in (".", "..") for part in value.split("/")):
        return "must be a URL path starting with '/' (e.g. \"/accounts/login/\"; letters, digits and " \
               f". _ ~ % @ + -, no '..'), got {_show(value)}"
    return None


def exact_url_paths_errors(value, name):
    """Errors for a list of exact URL paths (nginx `location =`): each starts with '/'; no spaces, ';', '..'."""
    def check(item, where):
        problem = _exact_url_path_problem(item)
        return [f"{where} {problem}"] if problem else []
    return _each(value, name, check, what="URL paths")


_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def environment_errors(value, name):
    """Errors for environment variables: NAME -> value, names of letters, digits and _, values on one line.
    Values are never shown (they may hold tokens)."""
    if not isinstance(value, dict):
        return [f"{name} must be a mapping of environment variable names to values"]
    errors = []
    for key, item in value.items():
        if not isinstance(key, str) or not _ENV_NAME_RE.fullmatch(key):
            errors.append(f"{name}: {_show(key)} is not an environment variable name (letters, digits, _)")
        elif not isinstance(item, (str, int, float)) or isinstance(item, bool) or "\n" in str(item) \
                or "\0" in str(item):
            errors.append(f"{name}: the value of {key} must be one line of text")
    return errors


def git_url_errors(value, name):
    """Errors for a git remote that carries a credential (user:password@, or a user / token in an
    http(s) URL): git keeps the URL in the clone's .git/config and shows it in errors and process
    lists. The URL is not echoed."""
    if not isinstance(value, str):
        return [f"{name} must be a git URL"]
    if "://" not in value:
        return []  # scp-like user@host:path (a user name, no password) or a local path
    parts = urllib.parse.urlsplit(value)
    if parts.password is not None or (parts.scheme.lower() in ("http", "https", "ftp", "ftps") and parts.username):
        return [f"{name} carries a credential in its URL, which git would keep in the clone's .git/config "
                "and show in logs: use git over SSH with a deploy key (django_app_git_ssh_key)"]
    return []


def rate_errors(value, name):
    """Errors for an nginx request rate: N r/s or N r/m, no spaces (e.g. 10r/m)."""
    if not isinstance(value, str) or not _RATE_RE.fullmatch(value):
        return [f"{name} must be a rate such as 10r/m or 2r/s (requests per second or minute), "
                f"got {_show(value)}"]
    return []


def admin_url_errors(value, name):
    """Errors for Django's admin URL prefix: relative (no leading '/'), ends in '/', no '..'."""
    if not isinstance(value, str) or not _ADMIN_URL_RE.fullmatch(value) \
            or any(part in (".", "..") for part in value.split("/")):
        return [f"{name} must be a relative path ending in \"/\" (e.g. \"staff-admin/\"), got {_show(value)}"]
    return []


def csp_errors(value, name):
    """Errors for a Content-Security-Policy: a mapping of directive to a list of sources.

    A source may not hold spaces, ';' or ',' (which would start another
    directive or policy).
    """
    if not isinstance(value, dict):
        return [f"{name} must be a mapping of directive to a list of sources, got {_show(value)}"]
    errors = []
    for directive, sources in value.items():
        if not isinstance(directive, str) or not _CSP_DIRECTIVE_RE.fullmatch(directive):
            errors.append(f"{name}: {_show(directive)} is not a directive name (e.g. default-src)")
            continue
        if not _is_list(sources):
            errors.append(f"{name}[{directive}] must be a list of sources (e.g. [\"'self'\"]), got {_show(sources)}")
            continue
        for source in sources:
            if not isinstance(source, str) or not _CSP_SOURCE_RE.fullmatch(source):
                errors.append(f"{name}[{directive}]: source {_show(source)} may not hold spaces, ';', ',' or quotes "
                              "other than a keyword's ('self')")
    return errors


def email_errors(value, name, allow_empty=False):
    """Errors for an e-mail address (allow_empty: "" is accepted)."""
    if allow_empty and value == "":
        return []
    if not isinstance(value, str) or not _EMAIL_RE.fullmatch(value):
        return [f"{name} must be an e-mail address such as ops@example.com, got {_show(value)}"]
    return []


def https_url_errors(value, name):
    """Errors for an https:// URL without spaces."""
    if not isinstance(value, str) or not _HTTPS_URL_RE.fullmatch(value):
        return [f"{name} must be an https:// URL, got {_show(value)}"]
    return []


_LOCAL_HTTP_URL_RE = re.compile(r"^http://(?:127\.0\.0\.1|\[::1\]|localhost)(?::[0-9]{1,5})?(?:/\S*)?$")


def webhook_url_errors(value, name):
    """Errors for a webhook URL ("" for none): https://, or http:// to a relay on the host itself.
    The value may hold a token, so the message never repeats it."""
    if value == "":
        return []
    if isinstance(value, str) and (_HTTPS_URL_RE.fullmatch(value) or _LOCAL_HTTP_URL_RE.fullmatch(value)):
        return []
    return [f"{name} must be an https:// URL without spaces (http:// only to 127.0.0.1, [::1] or localhost), "
            "or empty; the value is not shown (it may hold a token)"]


def database_url_errors(value, name, allow_empty=True):
    """Errors for a database URL: postgres://USER:PASSWORD@HOST:PORT/NAME[?OPTIONS] ("" allowed)."""
    if allow_empty and value == "":
        return []
    if not isinstance(value, str) or not _DATABASE_URL_RE.fullmatch(value):
        return [f"{name} must be postgres://USER:PASSWORD@HOST:PORT/NAME, without quotes, spaces or backslashes"
                + (" (or empty)" if allow_empty else "")]
    return []


def size_errors(value, name):
    """Errors for an nginx size: a number with an optional k/m/g suffix (e.g. 10m)."""
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not _SIZE_RE.fullmatch(str(value)):
        return [f"{name} must be a size such as 10m (a number, optionally k, m or g), got {_show(value)}"]
    return []


def duration_errors(value, name):
    """Errors for an nginx time: a number with an optional ms/s/m/h suffix (e.g. 30s)."""
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not _DURATION_RE.fullmatch(str(value)):
        return [f"{name} must be a time such as 30s (a number, optionally ms, s, m or h), got {_show(value)}"]
    return []


def _host_port_problem(value):
    """Why value is not HOST:PORT ([IPv6]:PORT, IPv4:PORT or name:PORT), or None."""
    if not isinstance(value, str) or ":" not in value:
        return "must be HOST:PORT"
    host, _, port = value.rpartition(":")
    if _port_problem(port):
        return f"has a port that {_port_problem(port)}"
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "has an invalid IPv6 address in brackets"
        return None
    if re.fullmatch(r"^[0-9.]+$", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return "has an invalid IPv4 address"
        return None
    if _hostname_problem(host):
        return "must be HOST:PORT with an IP address, [IPv6] or lowercase host name"
    return None


def bind_errors(value, name, allow_empty=False):
    """Errors for a listen address "ADDRESS:PORT" (IPv6 in brackets); allow_empty: "" is accepted."""
    if allow_empty and value == "":
        return []
    problem = _host_port_problem(value)
    return [f"{name} {_show(value)} {problem}"] if problem else []


def upstream_errors(value, name, min_items=1):
    """Errors for proxy upstream entries: "unix:/path/to.sock" or HOST:PORT / [IPv6]:PORT."""
    def check(entry, where):
        if isinstance(entry, str) and entry.startswith("unix:"):
            problem = _path_problem(entry[len("unix:"):])
            return [f"{where} {_show(entry)}: the socket {problem}"] if problem else []
        problem = _host_port_problem(entry)
        return [f"{where} {_show(entry)} must be \"unix:/path/to.sock\" or HOST:PORT ({problem})"] if problem else []

    return _each(value, name, check, min_items, "\"unix:/path/to.sock\" or HOST:PORT entries")


def private_link_errors(value, name, tls=False):
    """Errors for the ends of the plain-HTTP link between nginx and gunicorn ("" or unix:/path,
    HOST:PORT, or a list of them): an IP address there must not be a public (global) one,
    unless the link is mutual TLS (tls: true).

    That link carries passwords and session cookies in clear, and gunicorn believes the
    X-Forwarded-* headers on it; on a public address they would cross the provider's network.
    A host name cannot be judged without DNS and is left to the inventory."""
    def check(entry, where):
        if tls or not isinstance(entry, str) or entry == "" or entry.startswith("unix:"):
            return []
        host = entry.rpartition(":")[0].strip("[]") if ":" in entry else entry
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return []
        if not address.is_global:
            return []
        return [f"{where} {_show(entry)} is a public address: the plain HTTP between nginx and gunicorn "
                "(passwords, session cookies, the forwarded headers gunicorn trusts) would cross the "
                "provider's network. Set private_address on each host to its private network's address "
                "(a VPC, VLAN or WireGuard interface), or give the fleet its CA (internal_ca_dir): the "
                "link is then mutual TLS"]

    if _is_list(value):
        return [error for index, entry in enumerate(value) for error in check(entry, f"{name}[{index}]")]
    return check(value, name)


def _network_problem(value, allow_any=False, ipv6=True):
    text = str(value).strip() if isinstance(value, str) else None
    if text is None:
        return "is not an IPv4/IPv6 address or CIDR"
    if text in _ANY_SOURCES:
        return None if allow_any and text == "any" else "would allow everyone (not allowed here)"
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return "is not an IPv4/IPv6 address or CIDR" + (", nor `any`" if allow_any else "")
    if "/" in text and ipaddress.ip_interface(text).ip != network.network_address:
        return f"has host bits set (did you mean {network}?)"
    if network.version == 6 and not ipv6:
        return "is an IPv6 source but IPv6 is turned off"
    return None


def network_errors(value, name, allow_any=False, ipv6=True, min_items=0):
    """Errors for a list of IP addresses or networks (CIDR, no host bits set).

    allow_any: "any" is accepted (everyone); "*", 0.0.0.0/0 and ::/0 never
    are. ipv6: IPv6 entries accepted.
    """
    def check(entry, where):
        problem = _network_problem(entry, allow_any, ipv6)
        return [f"{where} {_show(entry)} {problem}"] if problem else []

    return _each(value, name, check, min_items, "IP addresses or CIDRs")


def allowed_sources_errors(value, name, ipv6=True):
    """Errors for the sources a service admits: ["any"] alone (everyone), or IPv4/IPv6
    addresses and CIDRs (no host bits).

    Never empty, which would admit nobody; "*", 0.0.0.0/0 and ::/0 are refused
    so that "everyone" is always written one way, "any".
    """
    if _is_list(value) and len(value) == 0:
        return [f"{name} must not be empty (nobody could connect): list addresses or CIDRs, "
                "or [\"any\"] to admit everyone"]
    errors = network_errors(value, name, allow_any=True, ipv6=ipv6)
    if not errors and len(value) > 1 and any(str(entry).strip() == "any" for entry in value):
        errors.append(f"{name} lists \"any\" beside other sources, got {_show(value)}: give [\"any\"] "
                      "alone (everyone), or only addresses and CIDRs")
    return errors


_RULE_COMMENT_RE = re.compile(r"^[A-Za-z0-9 .,:/@+_-]*$")


def firewall_rule_errors(value, name, ipv6=True):
    """Errors for extra firewall rules: port (1-65535 or "low:high", a range only with tcp/udp),
    from (address, CIDR or any), comment (letters, digits, space, . , : / @ + _ -; <= 200).

    Keys and proto's choices are the argument spec's.
    """
    def check(rule, where):
        if not isinstance(rule, dict):
            return [f"{where} must be a dict with port, proto, from, comment"]
        errors = []
        port = rule.get("port")
        text = str(port).strip() if isinstance(port, (int, str)) and not isinstance(port, bool) else ""
        low, sep, high = text.partition(":")
        problem = _port_problem(low) or (_port_problem(high) if sep else None)
        if problem:
            errors.append(f"{where}.port {_show(port)} must be a port number 1-65535 or a range \"low:high\"")
        elif sep and int(high) < int(low):
            errors.append(f"{where}.port {_show(port)} is a range whose end is below its start")
        elif sep and rule.get("proto", "tcp") not in ("tcp", "udp"):
            errors.append(f"{where}.port {_show(port)} is a range, which UFW accepts only with proto tcp or udp")
        problem = _network_problem(rule.get("from", "any"), allow_any=True, ipv6=ipv6)
        if problem:
            errors.append(f"{where}.from {_show(rule.get('from'))} {problem}")
        comment = rule.get("comment", "")
        if not isinstance(comment, str) or not _RULE_COMMENT_RE.fullmatch(comment) or len(comment) > 200:
            errors.append(f"{where}.comment {_show(comment)} may hold only letters, digits, space and "
                          ". , : / @ + _ - (at most 200 characters)")
        return errors

    return _each(value, name, check, 0, "rules")


# sysctl names as sysctl(8) and sysctl.d(5) write them: a top-level directory
# of /proc/sys, then dot-separated parts (interface names may hold '-').
_SYSCTL_TOP = ("abi", "crypto", "debug", "dev", "fs", "kernel", "net", "sunrpc", "user", "vm")
_SYSCTL_KEY_RE = re.compile(r"^[a-z]+(?:\.[A-Za-z0-9_-]+)+$")
_SYSCTL_VALUE_RE = re.compile(r"^[A-Za-z0-9_.:/,+ -]+$")


def sysctl_settings_errors(value, name):
    """Errors for sysctl settings: a mapping of dotted key (net.ipv4.ip_forward) to a scalar.

    Keys start with a /proc/sys directory (kernel, net, fs, vm, ...); values
    are whole numbers or short words/lists (letters, digits, space and
    . _ : / , + -), never booleans (true would be written as True), floats,
    lists or empty.
    """
    if not isinstance(value, dict):
        return [f"{name} must be a mapping of sysctl key to value, got {_show(value)}"]
    errors = []
    for key, setting in value.items():
        if not isinstance(key, str) or not _SYSCTL_KEY_RE.fullmatch(key) or key.split(".")[0] not in _SYSCTL_TOP:
            errors.append(f"{name}: {_show(key)} is not a sysctl key (dotted, starting with one of "
                          f"{', '.join(_SYSCTL_TOP)}, e.g. net.ipv4.ip_forward)")
            continue
        if isinstance(setting, bool) or not isinstance(setting, (int, str)) \
                or (isinstance(setting, str) and not _SYSCTL_VALUE_RE.fullmatch(setting.strip() or "!")):
            errors.append(f"{name}[{key}] must be a whole number or a short text value (letters, digits, space and "
                          f". _ : / , + -), got {_show(setting)}")
    return errors


def sysctl_proc_path(key):
    """Where the running kernel exposes a dotted sysctl key."""
    return "/proc/sys/" + str(key).replace(".", "/")


def sysctl_unknown_errors(value, name, paths):
    """Errors for sysctl keys the running kernel does not have (a typo, or a module
    not loaded). paths: hardening.stack.host_state's `paths` for each key's
    sysctl_proc_path."""
    return [f"{name}: {key} is not known to this kernel (no {sysctl_proc_path(key)}): a typo, or its module "
            "is not loaded" for key in (value or {}) if not (paths or {}).get(sysctl_proc_path(key), {}).get("exists")]


_CLOCK_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def clock_time_errors(value, name):
    """Errors for a time of day HH:MM (24-hour clock, 00:00-23:59), quoted in YAML."""
    if not isinstance(value, str) or not _CLOCK_RE.fullmatch(value):
        return [f"{name} must be a time of day HH:MM (24-hour, e.g. \"02:30\", quoted), got {_show(value)}"]
    return []


_KERNEL_MODULE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def kernel_module_errors(value, name):
    """Errors for a list of kernel module names (lowercase letters, digits, _ and -)."""
    def check(module, where):
        if not isinstance(module, str) or not _KERNEL_MODULE_RE.fullmatch(module):
            return [f"{where} {_show(module)} is not a kernel module name (lowercase letters, digits, _ and -)"]
        return []

    return _each(value, name, check, 0, "kernel module names")


def ntp_server_errors(value, name, min_items=1):
    """Errors for time servers: DNS names (lowercase) or IP addresses; at least min_items."""
    def check(server, where):
        if isinstance(server, str) and _is_ip(server):
            return []
        problem = _hostname_problem(server)
        return [f"{where} {_show(server)} {problem}"] if problem else []

    return _each(value, name, check, min_items, "time server names or addresses")


_SYSTEMD_SIZE_RE = re.compile(r"^[1-9][0-9]*[KMGT]?$")


def systemd_size_errors(value, name):
    """Errors for a systemd size (journald's SystemMaxUse=): a number, optionally K, M, G or T."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not _SYSTEMD_SIZE_RE.fullmatch(str(value)):
        return [f"{name} must be a size such as 500M (a number, optionally K, M, G or T), got {_show(value)}"]
    return []


_LOGIN_DEFS_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_LOGIN_DEFS_VALUE_RE = re.compile(r"^[A-Za-z0-9_./:-]+$")


def login_defs_errors(value, name):
    """Errors for /etc/login.defs settings: a mapping of KEY (upper case) to one word or number.

    UMASK must be an octal string such as "027" (an unquoted 027 is not the
    number meant); PASS_*_DAYS and PASS_WARN_AGE whole numbers.
    """
    if not isinstance(value, dict):
        return [f"{name} must be a mapping of login.defs key to value, got {_show(value)}"]
    errors = []
    for key, setting in value.items():
        where = f"{name}[{key}]"
        if not isinstance(key, str) or not _LOGIN_DEFS_KEY_RE.fullmatch(key):
            errors.append(f"{name}: {_show(key)} is not a login.defs key (upper case, e.g. UMASK)")
        elif key == "UMASK":
            if not isinstance(setting, str) or not re.fullmatch(r"^0?[0-7]{3}$", setting):
                errors.append(f"{where} must be an octal umask as a quoted string such as \"027\", got {_show(setting)}")
        elif key.startswith("PASS_") and key.endswith(("_DAYS", "_AGE")):
            errors.extend(integer_errors(setting, where, minimum=-1))
        elif isinstance(setting, bool) or not isinstance(setting, (int, str)) \
                or not _LOGIN_DEFS_VALUE_RE.fullmatch(str(setting)):
            errors.append(f"{where} must be one word or number, got {_show(setting)}")
    return errors


def banner_errors(value, name, max_length=2000):
    """Errors for a login banner: text without backslashes (getty expands \\s, \\r, \\v into the
    operating system's name and version), at most max_length characters."""
    if not isinstance(value, str):
        return [f"{name} must be text, got {_show(value)}"]
    errors = []
    if "\\" in value:
        errors.append(f"{name} must not hold backslashes (getty would expand \\s, \\r, \\v into the system's "
                      "name and version)")
    if len(value) > max_length:
        errors.append(f"{name} has {len(value)} characters (at most {max_length})")
    return errors


_SQL_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def certificate_names_errors(value, name):
    """Errors for a certificate's subjectAltNames: IP addresses (no CIDR) or DNS names, at least one."""
    def check(entry, where):
        if isinstance(entry, str) and _is_ip(entry):
            return []
        problem = _hostname_problem(entry)
        return [f"{where} {_show(entry)} is neither an IP address nor a DNS name ({problem})"] if problem else []

    return _each(value, name, check, min_items=1, what="IP addresses or DNS names")


def outside_errors(value, name, inside, why):
    """Errors for a controller path that must not lie within the directory inside (symlinks resolved)."""
    if not isinstance(value, str) or not value.startswith(("/", "~")):
        return [f"{name} must be an absolute path on the controller, got {_show(value)}"]
    path = os.path.realpath(os.path.expanduser(value))
    root = os.path.realpath(inside)
    if path == root or path.startswith(root.rstrip("/") + "/"):
        return [f"{name} ({value}) is inside {root}: {why}"]
    return []


# pg_hba.conf keywords, and the names PostgreSQL itself owns: a database or
# role with one of these would widen or hijack the one rule that admits the app.
_SQL_RESERVED = ("all", "sameuser", "samerole", "samegroup", "replication", "postgres", "template0",
                 "template1", "public", "none")


def sql_name_errors(value, name):
    """Errors for a PostgreSQL database or role name the roles create: lower case, digits, _ (<= 63),
    not a pg_hba.conf keyword, not PostgreSQL's own (postgres, template0/1, pg_*)."""
    if not isinstance(value, str) or not _SQL_NAME_RE.fullmatch(value):
        return [f"{name} must be a lower-case SQL name (a-z, digits, _; not starting with a digit; "
                f"at most 63 characters), got {_show(value)}"]
    if value in _SQL_RESERVED or value.startswith("pg_"):
        return [f"{name} {_show(value)} is a pg_hba.conf keyword or one of PostgreSQL's own names: choose "
                "the app's own name"]
    return []


def listen_address_errors(value, name):
    """Errors for the addresses a server listens on besides localhost: this host's unicast IP
    addresses, at least one; never a wildcard (0.0.0.0, ::) or loopback."""
    def check(entry, where):
        try:
            address = ipaddress.ip_address(str(entry).strip())
        except ValueError:
            return [f"{where} {_show(entry)} is not an IP address"]
        if address.is_unspecified:
            return [f"{where} {_show(entry)} would listen on every interface: give the private address"]
        if address.is_loopback or address.is_multicast:
            return [f"{where} {_show(entry)} is not a host's own private address (localhost is always included)"]
        return []

    return _each(value, name, check, min_items=1, what="IP addresses")


def password_errors(value, name, min_length=16):
    """Errors for a generated or vaulted password: text of at least min_length, no whitespace."""
    if not isinstance(value, str) or value == "":
        return [f"{name} is not set: put a random password of at least {min_length} characters in the vault"]
    if len(value) < min_length:
        return [f"{name} has {len(value)} characters (at least {min_length}: put a random one in the vault)"]
    if any(char.isspace() for char in value):
        return [f"{name} must not hold spaces or line breaks"]
    return []


FILTERS = {
    "sysctl_proc_path": sysctl_proc_path,
    "sysctl_unknown_errors": sysctl_unknown_errors,
    "webhook_url_errors": webhook_url_errors,
    "exact_url_paths_errors": exact_url_paths_errors,
    "rate_errors": rate_errors,
    "environment_errors": environment_errors,
    "git_url_errors": git_url_errors,
    "hostname_errors": hostname_errors,
    "port_errors": port_errors,
    "path_errors": path_errors,
    "relative_path_errors": relative_path_errors,
    "file_name_errors": file_name_errors,
    "secret_key_errors": secret_key_errors,
    "integer_errors": integer_errors,
    "boolean_errors": boolean_errors,
    "false_errors": false_errors,
    "debug_errors": debug_errors,
    "choice_errors": choice_errors,
    "required_errors": required_errors,
    "exactly_one_errors": exactly_one_errors,
    "at_least_one_errors": at_least_one_errors,
    "account_name_errors": account_name_errors,
    "admin_users_errors": admin_users_errors,
    "ssh_keygen_errors": ssh_keygen_errors,
    "authorized_key_part": authorized_key_part,
    "module_errors": module_errors,
    "url_path_errors": url_path_errors,
    "admin_url_errors": admin_url_errors,
    "csp_errors": csp_errors,
    "email_errors": email_errors,
    "https_url_errors": https_url_errors,
    "database_url_errors": database_url_errors,
    "size_errors": size_errors,
    "duration_errors": duration_errors,
    "bind_errors": bind_errors,
    "upstream_errors": upstream_errors,
    "private_link_errors": private_link_errors,
    "together_errors": together_errors,
    "network_errors": network_errors,
    "allowed_sources_errors": allowed_sources_errors,
    "firewall_rule_errors": firewall_rule_errors,
    "sysctl_settings_errors": sysctl_settings_errors,
    "clock_time_errors": clock_time_errors,
    "kernel_module_errors": kernel_module_errors,
    "ntp_server_errors": ntp_server_errors,
    "systemd_size_errors": systemd_size_errors,
    "login_defs_errors": login_defs_errors,
    "banner_errors": banner_errors,
    "certificate_names_errors": certificate_names_errors,
    "outside_errors": outside_errors,
    "sql_name_errors": sql_name_errors,
    "listen_address_errors": listen_address_errors,
    "password_errors": password_errors,
}


class FilterModule:
    """Validators of hardening.stack: each returns the list of errors, naming the variable."""

    def filters(self):
        return dict(FILTERS)
