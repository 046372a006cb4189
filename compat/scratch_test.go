package compat_test

import (
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

func TestScratch(t *testing.T) {
	db, err := gorm.Open(postgres.Open("postgresql://root@127.0.0.1:26257/defaultdb?sslmode=disable"), &gorm.Config{Logger: gormLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := db.Migrator().ColumnTypes("owners")
	t.Log(ct, err)
	rows, err := db.Session(&gorm.Session{}).Table("public.owners").Limit(1).Rows()
	t.Log(err)
	if err == nil {
		rows.Close()
	}
}
