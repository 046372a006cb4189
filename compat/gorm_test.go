package compat_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The GORM session's models: an owner with accounts, soft-deleted accounts, and a model that
// grows a column between two migrations.
type gormOwner struct {
	ID       uint   `gorm:"primaryKey"`
	Name     string `gorm:"size:64;not null;uniqueIndex"`
	Email    *string
	Accounts []gormAccount `gorm:"foreignKey:OwnerID"`
	Created  time.Time     `gorm:"autoCreateTime"`
}

type gormAccount struct {
	ID        uint  `gorm:"primaryKey"`
	OwnerID   uint  `gorm:"not null;index"`
	Balance   int64 `gorm:"not null;default:0"`
	Active    bool  `gorm:"default:true"`
	Notes     []byte
	UpdatedAt time.Time
	DeletedAt gorm.DeletedAt `gorm:"index"`
}

type gormEvent struct {
	ID   uint64 `gorm:"primaryKey;autoIncrement"`
	Kind string `gorm:"size:32"`
}

// gormEventV2 is gormEvent with a new column, in the same table.
type gormEventV2 struct {
	ID     uint64 `gorm:"primaryKey;autoIncrement"`
	Kind   string `gorm:"size:32"`
	Weight *int   `gorm:"default:1"`
}

func (gormOwner) TableName() string   { return "owners" }
func (gormAccount) TableName() string { return "accounts" }
func (gormEvent) TableName() string   { return "events" }
func (gormEventV2) TableName() string { return "events" }

// TestGORM runs GORM (gorm.io/gorm with gorm.io/driver/postgres, over pgx) against a node:
// AutoMigrate creating tables, indexes and foreign keys and then finding them up to date or
// adding a column, CRUD with soft deletes, associations with Preload and Joins, aggregates,
// transactions that commit, roll back and retry on 40001, and the duplicate-key error that
// GORM translates.
func TestGORM(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := gorm.Open(postgres.Open(rootURL(n)), &gorm.Config{
		TranslateError: true,
		Logger:         gormLogger(t),
	})
	must(t, err, "connect with SCRAM-SHA-256")
	db = db.WithContext(ctx)

	t.Run("automigrate", func(t *testing.T) {
		must(t, db.AutoMigrate(&gormOwner{}, &gormAccount{}, &gormEvent{}), "AutoMigrate creating the tables")
		m := db.Migrator()
		for _, table := range []string{"owners", "accounts", "events"} {
			if !m.HasTable(table) {
				t.Errorf("HasTable(%s) is false after AutoMigrate", table)
			}
		}
		if !m.HasIndex(&gormAccount{}, "idx_accounts_deleted_at") || !m.HasIndex(&gormOwner{}, "idx_owners_name") {
			t.Error("AutoMigrate's indexes are missing")
		}
		if !m.HasColumn(&gormOwner{}, "email") {
			t.Error("HasColumn(owners, email) is false")
		}
		// A second AutoMigrate reads the tables' columns and changes nothing.
		must(t, db.AutoMigrate(&gormOwner{}, &gormAccount{}, &gormEvent{}), "AutoMigrate on up-to-date tables")
		// A new field becomes a new column.
		must(t, db.AutoMigrate(&gormEventV2{}), "AutoMigrate adding a column")
		if !m.HasColumn(&gormEventV2{}, "weight") {
			t.Error("AutoMigrate did not add events.weight")
		}
		cts, err := m.ColumnTypes(&gormAccount{})
		must(t, err, "ColumnTypes")
		var names []string
		for _, ct := range cts {
			names = append(names, ct.Name())
		}
		// GORM lists them in the order of its catalog query, which has no ORDER BY.
		slices.Sort(names)
		if want := []string{"active", "balance", "deleted_at", "id", "notes", "owner_id", "updated_at"}; !slices.Equal(names, want) {
			t.Errorf("accounts' columns %v, want %v", names, want)
		}
	})

	t.Run("crud", func(t *testing.T) {
		email := "ada@example.com"
		ada := gormOwner{Name: "ada", Email: &email, Accounts: []gormAccount{{Balance: 100}, {Balance: 50, Notes: []byte{0, 1}}}}
		must(t, db.Create(&ada).Error, "create with associations")
		if ada.ID == 0 || ada.Accounts[0].ID == 0 || ada.Accounts[0].OwnerID != ada.ID {
			t.Fatalf("ids after create: %+v", ada)
		}
		grace := gormOwner{Name: "grace", Accounts: []gormAccount{{Balance: 10}}}
		must(t, db.Create(&grace).Error, "create")

		var got gormOwner
		must(t, db.Preload("Accounts").Where("name = ?", "ada").First(&got).Error, "first with preload")
		if got.Email == nil || *got.Email != email || len(got.Accounts) != 2 {
			t.Errorf("ada read back as %+v", got)
		}
		must(t, db.Model(&gormAccount{}).Where("id = ?", ada.Accounts[0].ID).Update("balance", gorm.Expr("balance + ?", 5)).Error, "update")
		must(t, db.Model(&got).Updates(map[string]any{"email": nil}).Error, "update to NULL")

		// Soft delete: the row stays, hidden from ordinary queries.
		must(t, db.Delete(&gormAccount{}, ada.Accounts[1].ID).Error, "soft delete")
		var count int64
		must(t, db.Model(&gormAccount{}).Count(&count).Error, "count")
		if count != 2 {
			t.Errorf("%d accounts visible after a soft delete, want 2", count)
		}
		must(t, db.Unscoped().Model(&gormAccount{}).Count(&count).Error, "unscoped count")
		if count != 3 {
			t.Errorf("%d accounts in all, want 3", count)
		}

		// A join and an aggregate.
		type total struct {
			Name  string
			Total int64
		}
		var totals []total
		must(t, db.Model(&gormOwner{}).
			Select("owners.name, sum(accounts.balance) AS total").
			Joins("JOIN accounts ON accounts.owner_id = owners.id AND accounts.deleted_at IS NULL").
			Group("owners.name").Order("owners.name").Scan(&totals).Error, "join and aggregate")
		if want := []total{{"ada", 105}, {"grace", 10}}; !slices.Equal(totals, want) {
			t.Errorf("totals %v, want %v", totals, want)
		}

		// Duplicate key, translated by GORM, and the driver's error underneath.
		err := db.Create(&gormOwner{Name: "ada"}).Error
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			t.Errorf("a duplicate name: %v, want gorm.ErrDuplicatedKey", err)
		}
		err = db.Session(&gorm.Session{}).Exec("INSERT INTO owners (name) VALUES ('grace')").Error
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			t.Errorf("a duplicate name by Exec: %v", err)
		}
	})

	t.Run("transactions", func(t *testing.T) {
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&gormEventV2{Kind: "kept"}).Error; err != nil {
				return err
			}
			return tx.Model(&gormAccount{}).Where("balance > ?", 0).Update("active", false).Error
		})
		must(t, err, "a transaction that commits")
		rollback := errors.New("roll back")
		err = db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&gormEventV2{Kind: "lost"}).Error; err != nil {
				return err
			}
			return rollback
		})
		if err != rollback {
			t.Errorf("the transaction returned %v", err)
		}
		var kinds []string
		must(t, db.Model(&gormEventV2{}).Order("id").Pluck("kind", &kinds).Error, "pluck")
		if !slices.Equal(kinds, []string{"kept"}) {
			t.Errorf("events %v after a commit and a rollback", kinds)
		}

		// Retry on 40001: GORM hands the driver's error back; the application retries.
		var acct gormAccount
		must(t, db.Where("balance = ?", 10).First(&acct).Error, "grace's account")
		attempts := 0
		for {
			attempts++
			err := db.Transaction(func(tx *gorm.DB) error {
				var a gormAccount
				if err := tx.First(&a, acct.ID).Error; err != nil {
					return err
				}
				if attempts == 1 {
					if err := db.Model(&gormAccount{}).Where("id = ?", acct.ID).Update("balance", gorm.Expr("balance + 1")).Error; err != nil {
						return err
					}
				}
				return tx.Model(&a).Update("balance", a.Balance*2).Error
			})
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "40001" && attempts < 5 {
				continue
			}
			must(t, err, "transaction")
			break
		}
		if attempts != 2 {
			t.Errorf("committed after %d attempts, want 2 (one 40001)", attempts)
		}
		must(t, db.First(&acct, acct.ID).Error, "read back")
		if acct.Balance != 22 {
			t.Errorf("balance %d after the retried transaction, want 22", acct.Balance)
		}
	})
}

// gormLogger sends GORM's warnings and errors to the test's log.
func gormLogger(t *testing.T) logger.Interface {
	return logger.New(testWriter{t}, logger.Config{LogLevel: logger.Warn, SlowThreshold: time.Minute})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Printf(format string, args ...any) { w.t.Logf(format, args...) }
