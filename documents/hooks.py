"""What the apps built on `documents` add to it, without `documents` knowing them (ecars/lib/hooks.py).

`documents` keeps the stored files, their scan, their download and their archives; the apps above it
put documents to their own uses (listing them under questions, for instance) and answer these hooks
from their AppConfig.ready():

- `contract_archive_entries(contract)`: the documents of the contract that are not its own (those of
  each of its questions, every year), as (path in the ZIP, Document) pairs in the archive's order;
  « Récupérer tous les documents » of the contract puts them after the contract's own documents.
- `contract_has_other_documents(contract)`: whether any such document exists (True or False, one cheap
  query): the contract page offers « Récupérer tous les documents » only when there is something to get.
- `document_contracts(document)`: the contracts a document also belongs to besides its own, as a
  queryset of contract primary keys (kept lazy: it is used as a subquery); the antivirus tells their ARS
  contacts when the document is infected.
- `stored_files()`: other kinds of files kept in the documents storage, each an `integrity.Kind`, that
  `check_documents` checks like the documents themselves.
- `contract_year(contract)`: the evaluated year the contract's files are named after (that of its latest
  campaign), or None; « Récupérer tous les documents » of the contract names its ZIP with it
  (documents/names.py).
"""

from ecars.lib.hooks import Hook


contract_archive_entries = Hook("contract_archive_entries")
contract_has_other_documents = Hook("contract_has_other_documents")
document_contracts = Hook("document_contracts")
stored_files = Hook("stored_files")
contract_year = Hook("contract_year")
