"""The seed article's session, verbatim, on both backends, and again after a restart."""

from cairn.config.fe_config import FeConfig
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from seed import SEED_INSERT, SEED_ROWS, SEED_SELECT, SEED_SETUP


def test_seed_session_returns_the_seed_rows(session: Session) -> None:
    session.execute_script(SEED_SETUP)
    assert session.execute(SEED_INSERT).affected_rows == 3
    assert sorted(session.execute(SEED_SELECT).rows()) == SEED_ROWS


def test_seed_rows_survive_a_restart(fe_config: FeConfig) -> None:
    first = Frontend.open(fe_config)
    Session(first).execute_script(SEED_SETUP + SEED_INSERT)
    first.close()
    second = Frontend.open(fe_config)
    assert sorted(Session(second, database="quickstart").execute(SEED_SELECT).rows()) == SEED_ROWS
    second.close()
