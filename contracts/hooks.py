"""What the apps built on `contracts` add to its pages, without `contracts` knowing them (ecars/lib/hooks.py).

- `contract_page(request, contract)`: blocks of the contract page, each a `Block`; `evaluation` adds the
  state banner, the buttons and the calendar, `documents` the « Documents du contrat ».
- `contract_states(contracts)`: « Etat en cours » of each contract, {contract pk: label}, for a whole
  list at once (one query), on the EJ page and in the admin.
- `precampaign(contract, today)`: the pré-campagne of the contract's current campaign, a
  `PrecampaignWindow`, or None (the identification data of its ET are validated during it).
"""

import datetime
from dataclasses import dataclass

from ecars.lib.hooks import Block, Hook


# The contract page's slots: « header » above the title (the state banner), « actions » under the
# title, « body » after the contract's own fields and links.
__all__ = ["Block", "PrecampaignWindow", "contract_page", "contract_states", "precampaign"]


@dataclass(frozen=True)
class PrecampaignWindow:
    year: int  # the year of the identification data
    start: datetime.date | None
    end: datetime.date | None
    name: str  # the campaign's name, for the page

    def is_open_on(self, today: datetime.date) -> bool:
        return bool(self.start and self.end) and self.start <= today <= self.end


contract_page = Hook("contract_page")
contract_states = Hook("contract_states")
precampaign = Hook("precampaign")
