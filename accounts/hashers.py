"""The password hash: Argon2id with the parameters OWASP's Password Storage Cheat Sheet gives as its first
configuration — 19 MiB of memory, 2 passes, 1 lane — instead of Django's default (100 MiB, 2 passes, 8 lanes).

Django's default costs about 250 ms of CPU per login on these 2-core machines: on deadline day, when the whole
country logs in within the same hours, logins alone would need more CPU than the machine has (issue 14). OWASP's
minimum configuration keeps Argon2id memory-hard (an attacker still needs 19 MiB per guess in parallel) for about a
fifth of that cost. ANSSI's guide on authentication (2021) recommends a memory-hard function such as Argon2 or scrypt
without fixing parameters. The algorithm name stays « argon2 »: hashes made with the old parameters still verify,
and Django rewrites each one with these at its owner's next login (`must_update` compares the parameters).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
