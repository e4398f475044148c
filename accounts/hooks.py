"""What the apps built on `accounts` add to it, without `accounts` knowing them (ecars/lib/hooks.py).

`contracts` answers them (contracts/apps.py): it knows which EJ, hence which region, an account belongs to.

- `region_accounts(region_id)`: ids of the accounts tied to a region besides its own staff (the
  members of its EJ), a queryset of user ids;
- `accounts_outside_region(region_id)`: ids of the accounts tied to another region as well (a
  membership elsewhere): an agent of `region_id` does not manage them;
- `account_search(term)`: ids of the accounts found by what else than their name (an EJ's FINESS);
- `staff_change_refused(user)`: why this account cannot become an agent's (a French message), or None;
- `password_context_words(user)`: words a password must not contain (the names of the user's EJ…);
- `account_page(request)`: blocks of « Mon compte » (`Block`, slot « body »).
"""

from ecars.lib.hooks import Hook


region_accounts = Hook("region_accounts")
accounts_outside_region = Hook("accounts_outside_region")
account_search = Hook("account_search")
staff_change_refused = Hook("staff_change_refused")
password_context_words = Hook("password_context_words")
account_page = Hook("account_page")
