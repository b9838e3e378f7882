package server

import (
	"context"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/favad/favad/feed"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

// Server is the FAVAD HTTP API.
type Server struct {
	cfg     Config
	store   *favsync.Store
	issuer  *auth.Issuer
	echo    *echo.Echo
	metrics *metrics
	signIns *signInGuard
	// trackLimiter bounds tracking-code lookups per address, so that codes
	// cannot be guessed in bulk.
	trackLimiter *loginLimiter
	// enrolLimiter bounds device enrolments per address, as sign-ins are.
	enrolLimiter *loginLimiter
	passwords    *passwordGate // bounds argon2 checks at once
	pushes       *pushGate     // bounds the mutations worked on at once
	patches      patchGate     // orders a request for an upload after a PATCH of it starts reading (tusd's race)
	draining     atomic.Bool
	routes       []Route
	ownsBody     map[string]bool // "METHOD /path" of the routes that bound their bodies themselves (tus)
	tus          http.Handler
	tusFiles     *uploadStore
	hub          *Hub
	feed         *feed.Broker
	shutdown     chan struct{} // closed by Drain: live streams end so that shutdown is not held up
}

// Route is one entry of the route table. Roles lists who may call it; a
// public route has Public set and no roles. Every route states one or the
// other, and a test checks each route against each role.
type Route struct {
	Method  string
	Path    string
	Public  bool
	Roles   []inspector.Role
	handler echo.HandlerFunc
	limit   int64 // body limit; 0 means Config.BodyLimit
}

var (
	anyRole    = inspector.Roles
	dispatch   = []inspector.Role{inspector.RoleDispatcher}
	overseer   = []inspector.Role{inspector.RoleDispatcher, inspector.RoleSupervisor, inspector.RoleAdmin}
	admin      = []inspector.Role{inspector.RoleAdmin}
	inspectors = []inspector.Role{inspector.RoleInspector}
	offices    = []inspector.Role{inspector.RoleOffice}
	uploaders  = []inspector.Role{inspector.RoleInspector, inspector.RoleOffice}
	referrals  = []inspector.Role{inspector.RoleDispatcher, inspector.RoleSupervisor, inspector.RoleAdmin, inspector.RoleOffice}
)

// noLimit marks a route whose body size its handler bounds itself (tus uploads).
const noLimit = -3

// New builds the server from cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:          cfg,
		store:        cfg.Store,
		issuer:       &auth.Issuer{Keys: cfg.Keys, AccessTTL: cfg.AccessTTL, Now: cfg.Now},
		metrics:      newMetrics(cfg.Store),
		signIns:      newSignInGuard(cfg.LoginPerAccount, cfg.LoginPerAddress, cfg.Now),
		trackLimiter: newLoginLimiter(math.MaxInt32, cfg.TrackPerAddress, cfg.Now),
		enrolLimiter: newLoginLimiter(math.MaxInt32, cfg.LoginPerAddress, cfg.Now),
		passwords:    newPasswordGate(cfg.LoginConcurrency, cfg.LoginQueueWait),
		pushes:       newPushGate(cfg.PushInFlight, cfg.PushQueueWait),
		hub:          cfg.Hub,
		feed:         cfg.Feed,
		shutdown:     make(chan struct{}),
	}
	s.metrics.registry.MustRegister(s.hub.open)
	s.metrics.registry.MustRegister(s.pushes.collectors()...)
	s.metrics.registry.MustRegister(s.feed.Collectors()...)
	s.metrics.registry.MustRegister(cfg.Collectors...)
	s.routes = []Route{
		{Method: http.MethodGet, Path: "/healthz", Public: true, handler: s.healthz},
		{Method: http.MethodGet, Path: "/readyz", Public: true, handler: s.readyz},
		{Method: http.MethodGet, Path: "/metrics", Public: true, handler: echo.WrapHandler(s.metrics.handler())},
		{Method: http.MethodGet, Path: "/openapi.yaml", Public: true, handler: s.openapi},

		{Method: http.MethodPost, Path: "/v1/auth/login", Public: true, handler: s.login},
		{Method: http.MethodPost, Path: "/v1/auth/refresh", Public: true, handler: s.refresh},
		{Method: http.MethodPost, Path: "/v1/auth/enrol", Public: true, handler: s.enrol},
		{Method: http.MethodPost, Path: "/v1/auth/logout", Roles: anyRole, handler: s.logout},
		{Method: http.MethodGet, Path: "/v1/me", Roles: anyRole, handler: s.me},

		{Method: http.MethodPost, Path: "/v1/complaints", Roles: dispatch, handler: s.createComplaint},
		{Method: http.MethodGet, Path: "/v1/complaints", Roles: overseer, handler: s.listComplaints},
		{Method: http.MethodGet, Path: "/v1/complaints/export", Roles: overseer, handler: s.exportComplaints},
		{Method: http.MethodGet, Path: "/v1/complaints/:id", Roles: anyRole, handler: s.getComplaint},
		{Method: http.MethodPost, Path: "/v1/complaints/:id/assign", Roles: dispatch, handler: s.assignComplaint},
		{Method: http.MethodPost, Path: "/v1/complaints/:id/refer", Roles: dispatch, handler: s.referComplaint},
		{Method: http.MethodPost, Path: "/v1/complaints/:id/withdraw", Roles: dispatch, handler: s.withdrawComplaint},
		{Method: http.MethodPost, Path: "/v1/complaints/:id/close", Roles: dispatch, handler: s.closeComplaint},
		{Method: http.MethodGet, Path: "/v1/referrals", Roles: referrals, handler: s.listReferrals},
		{Method: http.MethodPost, Path: "/v1/complaints/:id/referral/acknowledge", Roles: offices, handler: s.acknowledgeReferral},
		{Method: http.MethodPost, Path: "/v1/complaints/:id/referral/answer", Roles: offices, handler: s.answerReferral},
		{Method: http.MethodGet, Path: "/v1/track/:code", Public: true, handler: s.track},

		{Method: http.MethodGet, Path: "/v1/agencies", Roles: anyRole, handler: s.listAgencies},
		{Method: http.MethodPost, Path: "/v1/agencies", Roles: admin, handler: s.createAgency},
		{Method: http.MethodGet, Path: "/v1/agencies/:code", Roles: anyRole, handler: s.getAgency},
		{Method: http.MethodPut, Path: "/v1/agencies/:code", Roles: admin, handler: s.putAgency},
		{Method: http.MethodDelete, Path: "/v1/agencies/:code", Roles: admin, handler: s.deleteAgency},
		{Method: http.MethodGet, Path: "/v1/offices", Roles: anyRole, handler: s.listOffices},
		{Method: http.MethodPost, Path: "/v1/offices", Roles: admin, handler: s.createOffice},
		{Method: http.MethodPost, Path: "/v1/offices/import", Roles: admin, handler: s.importOffices, limit: -1},
		{Method: http.MethodGet, Path: "/v1/offices/:code", Roles: anyRole, handler: s.getOffice},
		{Method: http.MethodPut, Path: "/v1/offices/:code", Roles: admin, handler: s.putOffice},
		{Method: http.MethodDelete, Path: "/v1/offices/:code", Roles: admin, handler: s.deleteOffice},

		{Method: http.MethodGet, Path: "/v1/complaints/:id/fieldwork", Roles: overseer, handler: s.complaintFieldWork},

		{Method: http.MethodGet, Path: "/v1/sync/pull", Roles: inspectors, handler: s.pull},
		{Method: http.MethodPost, Path: "/v1/sync/push", Roles: inspectors, handler: s.push, limit: -2},
		{Method: http.MethodGet, Path: "/v1/sync/stream", Roles: inspectors, handler: s.syncStream},
		{Method: http.MethodGet, Path: "/v1/feed", Roles: overseer, handler: s.feedStream},
		{Method: http.MethodGet, Path: "/v1/feed/changes", Roles: overseer, handler: s.feedChanges},
		{Method: http.MethodPost, Path: "/v1/devices", Roles: anyRole, handler: s.registerDevice},
		{Method: http.MethodGet, Path: "/v1/conflicts", Roles: overseer, handler: s.listConflicts},
		{Method: http.MethodGet, Path: "/v1/conflicts/:id", Roles: overseer, handler: s.getConflict},
		{Method: http.MethodPost, Path: "/v1/conflicts/:id/resolve", Roles: dispatch, handler: s.resolveConflict},
		{Method: http.MethodPost, Path: "/v1/conflicts/settle", Roles: dispatch, handler: s.settleConflicts},

		{Method: http.MethodGet, Path: "/v1/reports/agencies", Roles: overseer, handler: s.reportAgencies},
		{Method: http.MethodGet, Path: "/v1/reports/offices", Roles: overseer, handler: s.reportOffices},
		{Method: http.MethodGet, Path: "/v1/reports/repeat-offenders", Roles: overseer, handler: s.reportRepeatOffenders},
		{Method: http.MethodGet, Path: "/v1/reports/inspectors", Roles: overseer, handler: s.reportInspectors},
		{Method: http.MethodGet, Path: "/v1/reports/timeseries", Roles: overseer, handler: s.reportTimeSeries},

		{Method: http.MethodDelete, Path: "/v1/visits/:id", Roles: dispatch, handler: s.deleteVisit},

		{Method: http.MethodOptions, Path: "/v1/uploads", Public: true, handler: s.uploadDiscovery},
		{Method: http.MethodPost, Path: "/v1/uploads", Roles: uploaders, handler: s.uploads, limit: noLimit},
		{Method: http.MethodHead, Path: "/v1/uploads/:id", Roles: uploaders, handler: s.uploads, limit: noLimit},
		{Method: http.MethodPatch, Path: "/v1/uploads/:id", Roles: uploaders, handler: s.uploads, limit: noLimit},
		{Method: http.MethodGet, Path: "/v1/evidence/:id", Roles: anyRole, handler: s.getEvidence},
		{Method: http.MethodGet, Path: "/v1/evidence/:id/content", Roles: anyRole, handler: s.evidenceContent},
		{Method: http.MethodHead, Path: "/v1/evidence/:id/content", Roles: anyRole, handler: s.evidenceContent},
		{Method: http.MethodGet, Path: "/v1/evidence/:id/thumbnail", Roles: anyRole, handler: s.evidenceThumbnail},
		{Method: http.MethodHead, Path: "/v1/evidence/:id/thumbnail", Roles: anyRole, handler: s.evidenceThumbnail},
		{Method: http.MethodGet, Path: "/v1/complaints/:id/evidence", Roles: overseer, handler: s.complaintEvidence},

		{Method: http.MethodGet, Path: "/v1/inspectors", Roles: overseer, handler: s.listInspectors},
		{Method: http.MethodGet, Path: "/v1/people", Roles: overseer, handler: s.listPeople},
		{Method: http.MethodGet, Path: "/v1/users", Roles: admin, handler: s.listUsers},
		{Method: http.MethodPost, Path: "/v1/users", Roles: admin, handler: s.createUser},
		{Method: http.MethodGet, Path: "/v1/users/:id", Roles: admin, handler: s.getUser},
		{Method: http.MethodPost, Path: "/v1/users/:id/disable", Roles: admin, handler: s.disableUser},
		{Method: http.MethodPost, Path: "/v1/users/:id/enable", Roles: admin, handler: s.enableUser},
		{Method: http.MethodPost, Path: "/v1/users/:id/reset-password", Roles: admin, handler: s.resetPassword},
		{Method: http.MethodGet, Path: "/v1/devices", Roles: admin, handler: s.listDevices},
		{Method: http.MethodPost, Path: "/v1/devices/:id/revoke", Roles: admin, handler: s.revokeDevice},
		{Method: http.MethodPost, Path: "/v1/enrolments", Roles: admin, handler: s.createEnrolment},
	}
	var err error
	if s.tus, err = s.newUploads(); err != nil {
		return nil, err
	}
	s.echo = s.newEcho()
	return s, nil
}

// Routes returns the route table, for tests and documentation.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Drain marks the server as shutting down: /readyz fails so that a load
// balancer stops sending new requests, while requests in flight finish.
func (s *Server) Drain() {
	if s.draining.CompareAndSwap(false, true) {
		close(s.shutdown)
	}
}

// Hub returns the live-stream hub, which the push notifier pokes.
func (s *Server) Hub() *Hub { return s.hub }

func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)
	e.Pre(middleware.RemoveTrailingSlash())
	e.Use(s.requestID, securityHeaders, s.recoverPanics, s.observe, s.bodyDeadline)
	if len(s.cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins: s.cfg.CORSOrigins,
			AllowHeaders: []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderXRequestID,
				headerProtocol, headerAppVersion, "Last-Event-ID",
				"Tus-Resumable", "Upload-Length", "Upload-Metadata", "Upload-Offset", "X-HTTP-Method-Override"},
			ExposeHeaders: []string{echo.HeaderXRequestID, "Retry-After", headerHistory, "Upgrade", echo.HeaderLocation,
				"Tus-Resumable", "Upload-Offset", "Upload-Length", "Favad-Evidence-Status"},
		}))
	}
	e.Use(checkQuery) // after CORS, so that a browser of another allowed origin reads the refusal
	s.ownsBody = map[string]bool{}
	for _, r := range s.routes {
		limit := r.limit
		if limit == noLimit {
			s.ownsBody[r.Method+" "+r.Path] = true
		}
		switch limit {
		case 0:
			limit = s.cfg.BodyLimit
		case -1:
			limit = s.cfg.ImportLimit
		case -2:
			limit = s.cfg.PushLimit
		}
		var mw []echo.MiddlewareFunc
		if !r.Public {
			mw = append(mw, s.authenticate, requireRole(r.Roles))
		}
		if limit != noLimit {
			mw = append(mw, bodyLimit(limit)) // after auth: a stranger learns nothing from a 413
		}
		e.Add(r.Method, r.Path, r.handler, mw...)
	}
	s.registerConsole(e)
	return e
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readinessBlobTimeout bounds the readiness probe's look at the blob store,
// well inside a load balancer's usual probe timeout.
const readinessBlobTimeout = 2 * time.Second

func (s *Server) readyz(c echo.Context) error {
	if s.draining.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "draining"})
	}
	if _, err := s.store.Stats(); err != nil {
		s.log(c).Error("readiness: store", "error", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
	}
	// Evidence in object storage: a node that cannot reach the bucket can
	// neither store nor serve evidence, so it should not take traffic.
	if checker, ok := s.cfg.Blobs.(blob.Checker); ok {
		ctx, cancel := context.WithTimeout(c.Request().Context(), readinessBlobTimeout)
		defer cancel()
		if err := checker.Check(ctx); err != nil {
			s.log(c).Error("readiness: blob store", "error", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "blob store unavailable"})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", s.cfg.Spec)
}
