"""A sweep whose declaration does not fit one MLflow tag is refused before anything is recorded (clipped, the
parent's ``pad.spec`` no longer parsed; unclipped, the server refused it after the parent run existed)."""

import pytest
from mlflow.utils.validation import MAX_TAG_VAL_LENGTH

from pad_core.ablation import AblationSpec, Row
from pad_core.errors import SweepError
from pad_core.integrations.sweep_checks import check_declaration_size


def spec_of(rows: int) -> AblationSpec:
    return AblationSpec("big", "Big", tuple(Row(f"r{i}", f"lr {i}", {"optim.lr": 1e-4 * (i + 1)}) for i in range(rows)),
                        ("P1", "P2"), (0, 1, 2), base={"moe.kind": "none"})


def test_a_declaration_that_fits_passes_and_one_that_does_not_is_refused_with_its_size():
    check_declaration_size(spec_of(20))
    big = spec_of(120)
    assert len(big.describe()) > MAX_TAG_VAL_LENGTH
    with pytest.raises(SweepError, match=r"sweep='big': its declaration \(120 rows, 720 cells\) takes \d+ characters; "
                                         r"MLflow keeps a tag of at most 8000\. Fix: split the rows"):
        check_declaration_size(big)
