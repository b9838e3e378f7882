// Package testseed fills a store with the people FAVAD's HTTP-level tests
// share: one account per role, two field inspectors and a phone inspector of
// Qazvin province, all with one password.
package testseed

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
)

// Password is every seeded account's password.
const Password = "correct-horse-battery"

// OfficeCode is the office the seeded office account answers for.
const OfficeCode = "QZ-SSO-01"

// Province is the seeded inspectors' region.
const Province = "قزوین"

// Users creates the accounts named (all of them when none is named) and
// returns them by username: dispatcher, field, field2, phone, supervisor, admin, office.
func Users(tb testing.TB, store *favsync.Store, names ...string) map[string]inspector.User {
	tb.Helper()
	hash, err := auth.HashPassword(Password)
	require.NoError(tb, err)
	region := &inspector.Region{Province: Province}
	all := []favsync.NewUser{
		{Username: "dispatcher", DisplayName: "مریم احمدی", Role: inspector.RoleDispatcher, PasswordHash: hash},
		{Username: "field", DisplayName: "علی رضایی", Role: inspector.RoleInspector, Mode: inspector.ModeField, Region: region, PasswordHash: hash},
		{Username: "field2", DisplayName: "حسن کریمی", Role: inspector.RoleInspector, Mode: inspector.ModeField, Region: region, PasswordHash: hash},
		{Username: "phone", DisplayName: "زهرا محمدی", Role: inspector.RoleInspector, Mode: inspector.ModePhone, Region: region, PasswordHash: hash},
		{Username: "supervisor", DisplayName: "رضا نوری", Role: inspector.RoleSupervisor, PasswordHash: hash},
		{Username: "admin", DisplayName: "مدیر سامانه", Role: inspector.RoleAdmin, PasswordHash: hash},
		// The liaison of office QZ-SSO-01, which must exist before.
		{Username: "office", DisplayName: "رابط شعبه یک", Role: inspector.RoleOffice, OfficeCode: OfficeCode, PasswordHash: hash},
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	users := map[string]inspector.User{}
	for _, n := range all {
		if len(names) > 0 && !want[n.Username] {
			continue
		}
		u, err := store.CreateUser(favsync.System, n)
		require.NoError(tb, err)
		users[u.Username] = u
	}
	return users
}
