"""The seed article's SQL, verbatim, and the rows its SELECT prints."""

import datetime

SEED_SETUP = """CREATE DATABASE IF NOT EXISTS quickstart;
USE quickstart;
CREATE TABLE source_wiki_edit( event_time DATETIME, channel VARCHAR(32) DEFAULT '', user VARCHAR(128) DEFAULT '', is_anonymous TINYINT DEFAULT '0', is_minor TINYINT DEFAULT '0', is_new TINYINT DEFAULT '0', is_robot TINYINT DEFAULT '0', is_unpatrolled TINYINT DEFAULT '0', delta INT DEFAULT '0', added INT DEFAULT '0', deleted INT DEFAULT '0')DUPLICATE KEY( event_time, channel,user, is_anonymous, is_minor, is_new, is_robot, is_unpatrolled)PARTITION BY RANGE(event_time)( PARTITION p06 VALUES LESS THAN ('2015-09-12 06:00:00'), PARTITION p12 VALUES LESS THAN ('2015-09-12 12:00:00'), PARTITION p18 VALUES LESS THAN ('2015-09-12 18:00:00'), PARTITION p24 VALUES LESS THAN ('2015-09-13 00:00:00'))DISTRIBUTED BY HASH(user);
"""

SEED_INSERT = """INSERT INTO source_wiki_edit
VALUES ("2015-09-12 00:00:00","#en.wikipedia","AustinFF",0,0,0,0,0,21,5,0), ("2015-09-12 00:00:00","#ca.wikipedia","helloSR",0,1,0,1,0,3,23,0), ("2015-09-12 08:00:00","#ca.wikipedia","helloSR",0,1,0,1,0,3,23,0);"""

SEED_SELECT = "select * from source_wiki_edit;"

SEED_ROWS = sorted([
    (datetime.datetime(2015, 9, 12, 0, 0), "#ca.wikipedia", "helloSR", 0, 1, 0, 1, 0, 3, 23, 0),
    (datetime.datetime(2015, 9, 12, 0, 0), "#en.wikipedia", "AustinFF", 0, 0, 0, 0, 0, 21, 5, 0),
    (datetime.datetime(2015, 9, 12, 8, 0), "#ca.wikipedia", "helloSR", 0, 1, 0, 1, 0, 3, 23, 0),
])


def run_seed(cursor) -> None:  # noqa: ANN001 - a DB-API cursor
    """Run the seed's set-up and INSERT through a DB-API cursor, one statement at a time."""
    for statement in (SEED_SETUP + SEED_INSERT).split(";"):
        if statement.strip():
            cursor.execute(statement)
