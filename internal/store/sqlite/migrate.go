package sqlite

import (
	"database/sql"
	"fmt"
	"time"
)

// migrate brings tables created by earlier versions of this package to the
// current layout. Each step checks for what it adds, so it runs once.
func migrate(db *sql.DB) error {
	if err := addColumn(db, "units", "no_retry", "INTEGER NOT NULL DEFAULT 0"); err != nil {
		return err
	}
	has, err := hasColumn(db, "executions", "due")
	if err != nil {
		return err
	}
	if !has {
		// Executions that were under way are looked at by the next sweep.
		if err := inTx(db, `ALTER TABLE executions ADD COLUMN due INTEGER`,
			fmt.Sprintf(`UPDATE executions SET due = %d WHERE state IN ('RUNNING', 'PAUSED')`, ms(time.Now()))); err != nil {
			return fmt.Errorf("add executions.due: %w", err)
		}
	}
	if has, err = hasColumn(db, "tasks", "u_state"); err != nil || has {
		return err
	}
	// Units of item 0 move into their tasks' rows.
	err = inTx(db,
		`ALTER TABLE tasks RENAME TO tasks_old`,
		tasksTable("tasks"),
		`INSERT INTO tasks (`+taskCols+`, `+unitSetCols+`)
		SELECT t.exec_id, t.key, t.name, t.seq, t.state, t.state_info, t.items, t.with_items, t.inbound, t.published,
			t.result, t.error, t.child_id, 0, t.created_at, t.finished_at,
			u.state, u.attempt, u.fence, u.action, u.input, u.timeout_ns, u.due, u.result, u.error, u.no_retry,
			u.started, u.finished
		FROM tasks_old t LEFT JOIN units u ON u.exec_id = t.exec_id AND u.task = t.key AND u.item = 0`,
		`DELETE FROM units WHERE item = 0 AND EXISTS
			(SELECT 1 FROM tasks_old t WHERE t.exec_id = units.exec_id AND t.key = units.task)`,
		`DROP TABLE tasks_old`)
	if err != nil {
		return fmt.Errorf("move units of item 0 into their tasks: %w", err)
	}
	return nil
}

func hasColumn(db *sql.DB, table, column string) (bool, error) {
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, column).Scan(&n); err != nil {
		return false, fmt.Errorf("inspect table %s: %w", table, err)
	}
	return n > 0, nil
}

// addColumn adds a column that a table created by an earlier version of
// this package lacks.
func addColumn(db *sql.DB, table, column, decl string) error {
	has, err := hasColumn(db, table, column)
	if err != nil || has {
		return err
	}
	if _, err := db.Exec(`ALTER TABLE ` + table + ` ADD COLUMN ` + column + ` ` + decl); err != nil {
		return fmt.Errorf("add column %s.%s: %w", table, column, err)
	}
	return nil
}

// inTx runs statements in one transaction.
func inTx(db *sql.DB, stmts ...string) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range stmts {
		if _, err := tx.Exec(q); err != nil {
			return err
		}
	}
	return tx.Commit()
}
