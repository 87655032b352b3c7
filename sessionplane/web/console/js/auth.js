// The signed-in identity: the token lives in sessionStorage only (this tab, this origin; never a URL
// or a cookie), and is forgotten on sign-out or on any 401.
const KEY = 'sessionplane.auth';
const REASON_KEY = 'sessionplane.signin-reason';
const PERMISSIONS_KEY = 'sessionplane.permissions';

function read() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || 'null');
  } catch {
    return null;
  }
}

export const auth = {
  get current() {
    return read();
  },
  get signedIn() {
    return Boolean(read()?.token);
  },
  get token() {
    return read()?.token || null;
  },
  get projectId() {
    return read()?.projectId || '';
  },

  remember({ token, body }) {
    const t = body.token;
    sessionStorage.setItem(
      KEY,
      JSON.stringify({
        token,
        projectId: t.project.id,
        projectName: t.project.name,
        userName: t.user.name,
        domain: t.user.domain.name,
        expiresAt: t.expires_at,
        isAdmin: (t.roles || []).some((role) => role.name === 'te_admin'),
      }),
    );
    sessionStorage.removeItem(REASON_KEY);
    sessionStorage.removeItem(PERMISSIONS_KEY);
  },

  forget(reason = '') {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(PERMISSIONS_KEY);
    if (reason) sessionStorage.setItem(REASON_KEY, reason);
    else sessionStorage.removeItem(REASON_KEY);
  },

  takeReason() {
    const reason = sessionStorage.getItem(REASON_KEY) || '';
    sessionStorage.removeItem(REASON_KEY);
    return reason;
  },

  // What this user may do, per instance ID ('' for the project), as learned from the API (see permissions.js).
  permissionCache() {
    try {
      return JSON.parse(sessionStorage.getItem(PERMISSIONS_KEY) || '{}');
    } catch {
      return {};
    }
  },
  rememberPermission(instanceId, answer) {
    const cache = this.permissionCache();
    cache[instanceId] = answer;
    sessionStorage.setItem(PERMISSIONS_KEY, JSON.stringify(cache));
  },
};
