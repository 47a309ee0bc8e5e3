"""The registry: who and what is where, loaded from a town directory of ledger files.

``rows`` (the ledgers and their row models), ``files`` (reading them), ``xlsx``
(reading one kept as a workbook), ``loader`` (into the tables), ``towns`` (finding
and listing the towns).


A town directory (``config/towns/<key>/``) holds ``town.yaml`` and one UTF-8 CSV
per ledger (see ``FILES``), or in its place an Excel workbook of the same stem
(``households.xlsx``; both at once is refused). Every row is validated by a pydantic model of its
file, then checked against the rows it refers to. Good rows are upserted in
dependency order, so loading a corrected ledger updates rows and loading twice
changes nothing. A bad row is refused with a ``RowProblem`` naming the file, the
line and the column; a row that refers to a refused row is refused too, and says
so. Nothing is dropped without a problem saying why.

What looks right and is not is refused too: a header naming a column twice (a row
would keep only the last value), a code, ID or phone number with a full-width or
other non-ASCII digit or an invisible character (it would be another key). Names
are NFC-normalised and lose invisible format characters (zero-width spaces, bidi
controls); a control character in a name refuses the row.
"""

from __future__ import annotations

from sanqing.registry.files import (
    LoadReport,
    read_town_file,
)
from sanqing.registry.loader import (
    load_town_dir,
)
from sanqing.registry.rows import (
    ECHO_MAX,
    FILES,
    PERSONAL_COLUMNS,
    TOWN_FILE,
    CadreRow,
    Code,
    CountyCode,
    Flag,
    GridRow,
    HazardPointRow,
    HazardThreatRow,
    HouseholdRow,
    IdNumber,
    Lat,
    LedgerFile,
    Lon,
    LongText,
    MachineRow,
    Phone,
    RoadRow,
    ShelterRow,
    TeamRow,
    Text,
    TownCode,
    TownFile,
    VillageCode,
    VillageRow,
)
from sanqing.registry.towns import (
    ensure_registry,
    find_town,
    find_town_dir,
    town_choices,
    town_dirs,
    town_names,
)

__all__ = [
    "ECHO_MAX",
    "FILES",
    "PERSONAL_COLUMNS",
    "TOWN_FILE",
    "CadreRow",
    "Code",
    "CountyCode",
    "Flag",
    "GridRow",
    "HazardPointRow",
    "HazardThreatRow",
    "HouseholdRow",
    "IdNumber",
    "Lat",
    "LedgerFile",
    "LoadReport",
    "Lon",
    "LongText",
    "MachineRow",
    "Phone",
    "RoadRow",
    "ShelterRow",
    "TeamRow",
    "Text",
    "TownCode",
    "TownFile",
    "VillageCode",
    "VillageRow",
    "ensure_registry",
    "find_town",
    "find_town_dir",
    "load_town_dir",
    "read_town_file",
    "town_choices",
    "town_dirs",
    "town_names",
]
