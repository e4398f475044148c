"""Admin of documents: view-only, never deleted (SECURITY.md C5).

Uploads go through the portal's pages; the file is reached through the portal's download view,
which authorises the reader, checks the SHA-256 and applies the antivirus verdict. Apps built on
`documents` may register this admin again with their own inlines (subclassing `DocumentAdmin`).
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from documents.models import Document
from documents.perms import may_download
from documents.validation import size_in_mo
from ecars.admin import ReadOnlyMixin, RegionScopedAdmin, ScopedRelatedListFilter


@admin.register(Document)
class DocumentAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_path = "ej__region"
    list_display = (
        "original_name",
        "ej",
        "contract",
        "size_shown",
        "mime_type",
        "has_macros",
        "scan_status",
        "uploaded_by",
        "uploaded_at",
    )
    list_filter = ("scan_status", "has_macros", ("ej__region", ScopedRelatedListFilter))
    list_select_related = ("ej", "contract", "uploaded_by")
    search_fields = ("original_name", "sha256", "ej__finess", "ej__name", "contract__name")
    date_hierarchy = "uploaded_at"
    fields = (
        "original_name",
        "download",
        "ej",
        "contract",
        "storage_key",
        "size_shown",
        "sha256",
        "mime_type",
        "has_macros",
        ("scan_status", "scan_detail", "scanned_at"),
        ("uploaded_by", "uploaded_at"),
        "public_id",
    )
    readonly_fields = ("download", "storage_key", "size_shown", "uploaded_at", "public_id")

    @admin.display(description="taille", ordering="size")
    def size_shown(self, obj):
        # In Mo, the unit of the « 20 Mo maximum » rule, as on every page.
        return size_in_mo(obj.size)

    @admin.display(description="fichier")
    def download(self, obj):
        # No link until the antivirus says « sain » (SECURITY.md E9): the reason instead.
        if not may_download(obj, None):  # the verdict is the same for every reader
            return f"« {obj.original_name} » — non téléchargeable : {obj.get_scan_status_display()}"
        url = reverse("documents:download", args=[obj.public_id])
        return format_html('<a href="{}" download>Télécharger « {} »</a>', url, obj.original_name)

    @admin.display(description="clé de stockage")
    def storage_key(self, obj):
        # Not a link: the private storage has no public URL.
        return obj.file.name
