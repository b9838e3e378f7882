package sync

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

func validNewUser() NewUser {
	return NewUser{
		Username: "ali.rezaei", DisplayName: "علی رضایی", Role: inspector.RoleInspector, Mode: inspector.ModeField,
		Region: &inspector.Region{Province: "قزوین", Cities: []string{"تاکستان"}}, PasswordHash: "$argon2id$fake",
	}
}

func TestCreateUserValidation(t *testing.T) {
	tests := []struct {
		name             string
		mutate           func(*NewUser)
		field, fieldCode string // "" means valid
	}{
		{"valid inspector", func(*NewUser) {}, "", ""},
		{"valid dispatcher", func(n *NewUser) { n.Role, n.Mode, n.Region = inspector.RoleDispatcher, "", nil }, "", ""},
		{"upper-case username is folded", func(n *NewUser) { n.Username = " Ali_Rezaei-2 " }, "", ""},
		{"username too short", func(n *NewUser) { n.Username = "ab" }, "username", "invalid"},
		{"username too long", func(n *NewUser) { n.Username = strings.Repeat("a", 41) }, "username", "invalid"},
		{"username with a space", func(n *NewUser) { n.Username = "ali rezaei" }, "username", "invalid"},
		{"username starting with a dot", func(n *NewUser) { n.Username = ".ali" }, "username", "invalid"},
		{"username in Persian", func(n *NewUser) { n.Username = "علی" }, "username", "invalid"},
		{"no display name", func(n *NewUser) { n.DisplayName = "  " }, "display_name", "required"},
		{"display name too long", func(n *NewUser) { n.DisplayName = strings.Repeat("ع", inspector.MaxName+1) }, "display_name", "too_long"},
		{"no role", func(n *NewUser) { n.Role = "" }, "role", "invalid"},
		{"unknown role", func(n *NewUser) { n.Role = "root" }, "role", "invalid"},
		{"inspector without mode", func(n *NewUser) { n.Mode = "" }, "mode", "invalid"},
		{"inspector without region", func(n *NewUser) { n.Region = nil }, "region.province", "required"},
		{"inspector with blank province", func(n *NewUser) { n.Region = &inspector.Region{Province: " "} }, "region.province", "required"},
		{"dispatcher with a mode", func(n *NewUser) { n.Role, n.Region = inspector.RoleDispatcher, nil }, "mode", "not_allowed"},
		{"admin with a region", func(n *NewUser) { n.Role, n.Mode = inspector.RoleAdmin, "" }, "mode", "not_allowed"},
		{"no password", func(n *NewUser) { n.PasswordHash = "" }, "password", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpenStore(t)
			n := validNewUser()
			tt.mutate(&n)
			u, err := s.CreateUser(admin, n)
			if tt.field == "" {
				require.NoError(t, err)
				assert.NotEmpty(t, u.ID)
				assert.Equal(t, strings.ToLower(strings.TrimSpace(n.Username)), u.Username)
				assert.Len(t, allChanges(t, s), 1)
				return
			}
			requireField(t, err, inspector.CodeInvalid, tt.field, tt.fieldCode)
			assert.Empty(t, allChanges(t, s))
			users, err := s.Users("")
			require.NoError(t, err)
			assert.Empty(t, users)
		})
	}
}

func TestCreateUser(t *testing.T) {
	s := mustOpenStore(t)
	n := validNewUser()
	n.Username, n.DisplayName = " Ali.Rezaei ", " علی رضایی "
	u, err := s.CreateUser(admin, n)
	require.NoError(t, err)
	assert.Equal(t, inspector.User{
		ID: u.ID, Username: "ali.rezaei", DisplayName: "علی رضایی", Role: inspector.RoleInspector, Mode: inspector.ModeField,
		Region: &inspector.Region{Province: "قزوین", Cities: []string{"تاکستان"}}, CreatedAt: t0,
	}, u)

	got, err := s.User(u.ID)
	require.NoError(t, err)
	assert.Equal(t, u, got)

	ch := allChanges(t, s)
	require.Len(t, ch, 1)
	assert.Equal(t, Change{Seq: 1, Kind: KindUser, ID: u.ID, Action: ActionCreated, Actor: admin.UserID, At: t0,
		Data: map[string]string{"role": "inspector"}}, ch[0])

	cu, hash, err := s.Credentials(" ALI.REZAEI ")
	require.NoError(t, err)
	assert.Equal(t, u, cu)
	assert.Equal(t, "$argon2id$fake", hash)

	_, _, err = s.Credentials("nobody")
	requireCode(t, err, inspector.CodeNotFound)
	_, err = s.User("nobody")
	requireCode(t, err, inspector.CodeNotFound)
}

func TestCreateUserUniqueUsername(t *testing.T) {
	s := mustOpenStore(t)
	_, err := s.CreateUser(admin, validNewUser())
	require.NoError(t, err)
	seq := lastSeq(t, s)

	for _, name := range []string{"ali.rezaei", "ALI.Rezaei", "  ali.rezaei\t"} {
		n := validNewUser()
		n.Username = name
		n.Role, n.Mode, n.Region = inspector.RoleDispatcher, "", nil
		_, err := s.CreateUser(admin, n)
		requireField(t, err, inspector.CodeConflict, "username", "taken")
	}
	assert.Equal(t, seq, lastSeq(t, s))
	users, err := s.Users("")
	require.NoError(t, err)
	assert.Len(t, users, 1)
}

func TestUsersByRole(t *testing.T) {
	s := mustOpenStore(t)
	mustCreateUser(t, s, "zahra", inspector.RoleInspector, inspector.ModePhone)
	mustCreateUser(t, s, "ali", inspector.RoleInspector, inspector.ModeField)
	mustCreateUser(t, s, "mina", inspector.RoleDispatcher, "")
	mustCreateUser(t, s, "root", inspector.RoleAdmin, "")

	names := func(us []inspector.User) []string {
		out := []string{}
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	all, err := s.Users("")
	require.NoError(t, err)
	assert.Equal(t, []string{"ali", "mina", "root", "zahra"}, names(all), "sorted by username")
	insp, err := s.Users(inspector.RoleInspector)
	require.NoError(t, err)
	assert.Equal(t, []string{"ali", "zahra"}, names(insp))
	sup, err := s.Users(inspector.RoleSupervisor)
	require.NoError(t, err)
	assert.Empty(t, sup)
	assert.NotNil(t, sup, "an empty list, not null")
}

func TestUserChangesNotFound(t *testing.T) {
	s := mustOpenStore(t)
	_, err := s.SetUserDisabled(admin, "nobody", true)
	requireCode(t, err, inspector.CodeNotFound)
	_, err = s.SetPasswordHash(admin, "nobody", "h")
	requireCode(t, err, inspector.CodeNotFound)
	_, err = s.SetPasswordHash(admin, "nobody", "")
	requireField(t, err, inspector.CodeInvalid, "password", "required")
	assert.Empty(t, allChanges(t, s))
}
