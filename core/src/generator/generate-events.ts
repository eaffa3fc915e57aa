/**
 * A deterministic synthetic product: users, companies and a period of Segment-spec
 * `identify`, `group` and `track` calls, for the examples, the demo (`npm start`), tests
 * and benchmarks. The same options always give byte-identical output: no clock, no
 * Math.random, only the seeded PRNG of ./random.
 *
 * The story it tells is a product-led SaaS:
 * - users belong to companies of 2 to 8 people; about a fifth sign up with a free-mail
 *   address and have no company;
 * - every user has a latent engagement (a segment: tourist, casual, engaged, power user);
 *   tourists look around once, casual users come back now and then, engaged and power
 *   users activate, go deep, try paid features and invite their teammates;
 * - a company's first user (its champion) signs up first; the colleagues they invite sign
 *   up within a couple of days, the others find the product on their own later;
 * - many users churn: they stop being active after some day, so inactivity decay matters;
 * - a user's first calls are an `identify` (email, name, plan, job title) and, with a
 *   company, a `group` (name, domain or website, plan, employees); then track events on
 *   active days, in sessions during the user's working hours. About 70% of track events
 *   carry `context.traits.email`; the rest only `userId` (resolved through the contact's
 *   `pqlkit_user_id`). Company users' track and identify calls carry `context.groupId`.
 */

import { Random, hashSeed, uuidFrom } from './random'

export type Profile = 'project-management' | 'analytics' | 'async-video'

export type GeneratorOptions = {
  profile: Profile
  /** number of users (contacts) */
  users: number
  /** length of the period, in days */
  days: number
  /** ISO 8601 end of the period (exclusive); events fall in [end − days, end) */
  end: string
  seed: number
}

export type SegmentMessage = {
  type: 'track' | 'identify' | 'group'
  messageId: string
  timestamp: string
  userId: string
  event?: string
  properties?: Record<string, unknown>
  traits?: Record<string, unknown>
  groupId?: string
  context?: { traits?: { email?: string }; groupId?: string }
}

export const PROFILES: readonly Profile[] = ['project-management', 'analytics', 'async-video']

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000
const MINUTE_MS = 60_000

/** Share of track events that carry the user's email in `context.traits.email`. */
const EMAIL_ON_TRACK = 0.7

// ---------------------------------------------------------------------------------------
// People and companies

type Segment = 'tourist' | 'casual' | 'engaged' | 'power'

type Company = {
  id: string
  name: string
  domain: string
  /** the group call's traits say `domain` (true) or `website` (false) */
  useDomainTrait: boolean
  plan: string
  employees: number
  members: User[]
}

type User = {
  index: number
  userId: string
  email: string
  firstname: string
  lastname: string
  jobtitle?: string
  plan: string
  company?: Company
  segment: Segment
  /** 0..1 */
  engagement: number
  /** the features this user will ever try (see ADOPTION) */
  adopts: Set<Feature>
  /** hours east of UTC (working hours are local) */
  utcOffsetHours: number
  signupDay: number
  /** the last day the user may be active (churned users stop before the period ends) */
  lastActiveDay: number
  /** day the user upgrades to the paying plan, if they do */
  upgradeDay?: number
  /** colleagues this user will invite (they sign up after the invitation) */
  invitees: User[]
  /** further invitations, to people who do not sign up within the period */
  extraInvites: number
  /** when (ms) a colleague invited this user */
  invitedAt?: number
  /** the signup session starts no earlier than this (ms) */
  earliestSignup?: number
  random: Random
}

const FIRST_NAMES = [
  'Aisha', 'Alex', 'Amara', 'Ana', 'Arjun', 'Ben', 'Camille', 'Carlos', 'Chen', 'Chloe',
  'Daniel', 'David', 'Elena', 'Emma', 'Ethan', 'Fatima', 'Felix', 'Grace', 'Hannah', 'Hiro',
  'Ines', 'Isaac', 'Jade', 'James', 'Jonas', 'Julia', 'Kai', 'Kenji', 'Lara', 'Leo',
  'Lina', 'Lucas', 'Maya', 'Mei', 'Mia', 'Nadia', 'Noah', 'Nora', 'Olivia', 'Omar',
  'Priya', 'Rafael', 'Rosa', 'Sam', 'Sara', 'Sofia', 'Tariq', 'Theo', 'Yara', 'Zoe'
] as const

const LAST_NAMES = [
  'Adams', 'Ahmed', 'Alvarez', 'Andersen', 'Baker', 'Bauer', 'Brown', 'Chen', 'Costa', 'Dubois',
  'Evans', 'Fischer', 'Garcia', 'Gupta', 'Hansen', 'Ito', 'Jansen', 'Kim', 'Kowalski', 'Larsen',
  'Lee', 'Lopez', 'Martin', 'Meyer', 'Moreau', 'Murphy', 'Nakamura', 'Nguyen', 'Novak', 'Okafor',
  'Olsen', 'Patel', 'Perez', 'Rossi', 'Santos', 'Schmidt', 'Silva', 'Singh', 'Smith', 'Suzuki',
  'Tanaka', 'Taylor', 'Thomas', 'Walker', 'Wang', 'Weber', 'Williams', 'Wilson', 'Yilmaz', 'Zhang'
] as const

const COMPANY_WORDS = [
  'Amber', 'Atlas', 'Beacon', 'Birch', 'Bright', 'Cedar', 'Cobalt', 'Copper', 'Delta', 'Ember',
  'Falcon', 'Fern', 'Granite', 'Harbor', 'Helix', 'Indigo', 'Juniper', 'Kestrel', 'Lumen', 'Maple',
  'Meadow', 'Nimbus', 'North', 'Oak', 'Orbit', 'Pine', 'Pixel', 'Quarry', 'Quill', 'Raven',
  'Ridge', 'Sable', 'Signal', 'Silver', 'Solstice', 'Summit', 'Tidal', 'Vertex', 'Willow', 'Zephyr'
] as const

const COMPANY_SUFFIXES = [
  'Labs', 'Works', 'Systems', 'Digital', 'Studio', 'Logistics', 'Health', 'Capital', 'Foods',
  'Robotics', 'Media', 'Cloud', 'Partners', 'Software', 'Energy', 'Retail', 'Bio', 'Learning'
] as const

const TLDS: readonly (readonly [string, number])[] = [
  ['com', 6],
  ['io', 3],
  ['co', 1.5],
  ['ai', 1],
  ['dev', 0.5],
  ['de', 0.5],
  ['co.uk', 0.5]
]

const FREE_MAIL: readonly (readonly [string, number])[] = [
  ['gmail.com', 10],
  ['outlook.com', 2],
  ['yahoo.com', 1.5],
  ['hotmail.com', 1.5],
  ['icloud.com', 1],
  ['proton.me', 0.5]
]

const EMPLOYEES = [4, 8, 12, 20, 35, 50, 80, 120, 200, 350, 600, 1200, 4000] as const

const JOB_TITLES: Record<Profile, readonly string[]> = {
  'project-management': [
    'Project Manager', 'Product Manager', 'Engineering Manager', 'Software Engineer', 'Designer',
    'Marketing Manager', 'Operations Lead', 'Head of Operations', 'Founder', 'CTO', 'Agency Owner'
  ],
  analytics: [
    'Data Analyst', 'Analytics Engineer', 'Head of Data', 'Data Scientist', 'Marketing Analyst',
    'Finance Manager', 'Growth Lead', 'Product Manager', 'CTO', 'Founder', 'BI Developer'
  ],
  'async-video': [
    'Customer Success Manager', 'Account Executive', 'Sales Development Rep', 'Product Designer',
    'Engineering Manager', 'Recruiter', 'Marketing Lead', 'Support Lead', 'Founder', 'Teacher'
  ]
}

const SEGMENTS: readonly (readonly [Segment, number])[] = [
  ['tourist', 0.36],
  ['casual', 0.34],
  ['engaged', 0.2],
  ['power', 0.1]
]

const SEGMENT_RANK: Record<Segment, number> = { tourist: 0, casual: 1, engaged: 2, power: 3 }

type Feature = 'api' | 'integration' | 'paid_feature' | 'second_source' | 'share' | 'schedule' | 'workspace' | 'branding'

/**
 * Whether a user will ever try a feature, by segment (tourist, casual, engaged, power): most
 * depth comes from a minority of users. `api` also means writing SQL (technical users).
 */
const ADOPTION: Record<Profile, Partial<Record<Feature, readonly [number, number, number, number]>>> = {
  'project-management': {
    integration: [0.02, 0.1, 0.4, 0.75],
    paid_feature: [0.01, 0.05, 0.3, 0.7],
    api: [0.01, 0.03, 0.2, 0.55]
  },
  analytics: {
    second_source: [0.01, 0.04, 0.25, 0.7],
    share: [0.01, 0.05, 0.3, 0.7],
    schedule: [0, 0.01, 0.15, 0.45],
    api: [0.01, 0.02, 0.15, 0.5]
  },
  'async-video': {
    workspace: [0, 0.01, 0.2, 0.55],
    branding: [0, 0.02, 0.15, 0.45]
  }
}

const ENGAGEMENT: Record<Segment, readonly [number, number]> = {
  tourist: [0.03, 0.2],
  casual: [0.2, 0.45],
  engaged: [0.45, 0.75],
  power: [0.75, 1]
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, '')
}

// ---------------------------------------------------------------------------------------
// Events under construction

type Draft = {
  at: number
  type: SegmentMessage['type']
  event?: string
  properties?: Record<string, unknown>
  traits?: Record<string, unknown>
  groupId?: string
}

/** What a user has done so far (profile logic reads and updates it). */
type UserState = {
  counts: Map<string, number>
  seen: Set<string>
  /** profile-specific sets (integrations connected, data sources, ...) */
  sets: Map<string, Set<string>>
  pendingInvitees: User[]
  extraInvitesLeft: number
  /** async-video: views of the user's videos, for the avg_view_rate trait */
  viewCount: number
  viewRateSum: number
  /** async-video: how engaging this user's videos are (0..1) */
  contentQuality: number
}

type Action = { event: string; properties?: Record<string, unknown>; invitee?: User }

type Session = {
  user: User
  state: UserState
  random: Random
}

function count(state: UserState, event: string): number {
  return state.counts.get(event) ?? 0
}

function setOf(state: UserState, name: string): Set<string> {
  let set = state.sets.get(name)
  if (!set) {
    set = new Set()
    state.sets.set(name, set)
  }
  return set
}

function record(state: UserState, action: Action): Action {
  state.counts.set(action.event, count(state, action.event) + 1)
  state.seen.add(action.event)
  return action
}

/** A "Teammate Invited" action: a pending colleague first, else someone who won't sign up yet. */
function invite(session: Session): Action | undefined {
  const { state, user, random } = session
  const invitee = state.pendingInvitees.shift()
  if (invitee) {
    return { event: 'Teammate Invited', properties: { invitee_email: invitee.email.toLowerCase(), role: 'member', method: 'email' }, invitee }
  }
  if (state.extraInvitesLeft <= 0) return undefined
  state.extraInvitesLeft--
  // Someone who is not (yet) a user: never one of the colleagues' addresses, and never the
  // shape of a user's free-mail address (those have no dot before a number).
  const taken = new Set((user.company?.members ?? []).map((member) => member.email.toLowerCase()))
  let email = ''
  for (let n = 0; email === '' || taken.has(email); n++) {
    const name = `${slug(random.pick(FIRST_NAMES))}.${slug(random.pick(LAST_NAMES))}`
    email = user.company ? `${name}${n >= 3 ? `.${n}` : ''}@${user.company.domain}` : `${name}.${random.int(1, 99)}@${random.weighted(FREE_MAIL)}`
  }
  return {
    event: 'Teammate Invited',
    properties: { invitee_email: email, role: random.chance(0.15) ? 'admin' : 'member', method: random.chance(0.8) ? 'email' : 'link' }
  }
}

function canInvite(state: UserState): boolean {
  return state.pendingInvitees.length > 0 || state.extraInvitesLeft > 0
}

/** A profile: what a user does in the signup session and in each later session. */
type ProfileBehaviour = {
  /** actions of the first session (after identify and group) */
  onboarding(session: Session): Action[]
  /** weighted candidate actions for one step of a later session */
  next(session: Session): Action | undefined
}

const PAGES = ['/home', '/my-tasks', '/inbox', '/projects', '/calendar', '/reports', '/settings'] as const

const projectManagement: ProfileBehaviour = {
  onboarding(session) {
    const { user, state, random } = session
    const actions: Action[] = [{ event: 'Page Viewed', properties: { path: '/onboarding', title: 'Welcome' } }]
    const activates = random.chance([0.45, 0.75, 0.95, 1][SEGMENT_RANK[user.segment]])
    if (activates) {
      actions.push(createProject(session))
      const tasks = random.int(1, 2 + Math.round(user.engagement * 5))
      for (let i = 0; i < tasks; i++) actions.push(createTask(session))
      if (user.engagement > 0.5 && random.chance(0.5)) {
        const invitation = invite(session)
        if (invitation) actions.push(invitation)
      }
    }
    return actions.map((action) => record(state, action))
  },
  next(session) {
    const { user, state, random } = session
    const e = user.engagement
    const hasProject = count(state, 'Project Created') > 0
    const integrations = setOf(state, 'integrations')
    const choice = random.weighted<string>([
      ['Page Viewed', 3],
      ['Task Created', hasProject ? 2.5 + 2.5 * e : 0],
      ['Project Created', hasProject ? 0.15 + 0.35 * e : 2],
      ['Teammate Invited', canInvite(state) ? 0.4 + 1.6 * e : 0],
      ['Integration Connected', user.adopts.has('integration') && integrations.size < 4 ? 0.25 : 0],
      ['API Call', user.adopts.has('api') ? 1.5 : 0],
      ['Automation Created', hasProject && user.adopts.has('paid_feature') ? 0.3 : 0],
      ['Advanced Filter Used', hasProject && user.adopts.has('paid_feature') ? 0.4 : 0]
    ])
    let action: Action | undefined
    switch (choice) {
      case 'Page Viewed':
        action = { event: 'Page Viewed', properties: { path: random.pick(PAGES) } }
        break
      case 'Task Created':
        action = createTask(session)
        break
      case 'Project Created':
        action = createProject(session)
        break
      case 'Teammate Invited':
        action = invite(session)
        break
      case 'Integration Connected': {
        const integration = random.weighted<string>([['Slack', 4], ['Google Drive', 3], ['GitHub', 2], ['Jira', 1.5]])
        integrations.add(integration)
        action = { event: 'Integration Connected', properties: { integration } }
        break
      }
      case 'API Call':
        action = {
          event: 'API Call',
          properties: { calls: Math.min(50, random.int(1, 10 + Math.round(40 * e * random.next()))), endpoint: random.pick(['/v1/tasks', '/v1/projects', '/v1/comments', '/v1/users']) }
        }
        break
      case 'Automation Created':
        action = {
          event: 'Automation Created',
          properties: { trigger: random.pick(['task_completed', 'status_changed', 'due_date_passed', 'form_submitted']), action: random.pick(['assign', 'notify', 'move', 'create_task']) }
        }
        break
      case 'Advanced Filter Used':
        action = { event: 'Advanced Filter Used', properties: { filter: random.pick(['assignee', 'custom_field', 'due_date', 'priority', 'tag']), conditions: random.int(2, 5) } }
        break
    }
    return action && record(state, action)
  }
}

function createProject(session: Session): Action {
  const { user, state, random } = session
  const n = count(state, 'Project Created') + 1
  return {
    event: 'Project Created',
    properties: { project_id: `prj_${user.index + 1}_${n}`, template: random.pick(['blank', 'kanban', 'roadmap', 'sprint', 'content_calendar']) }
  }
}

function createTask(session: Session): Action {
  const { user, state, random } = session
  const projects = Math.max(1, count(state, 'Project Created'))
  return {
    event: 'Task Created',
    properties: { project_id: `prj_${user.index + 1}_${random.int(1, projects)}`, assigned: random.chance(0.6), due_date_set: random.chance(0.45) }
  }
}

const DATA_SOURCES: readonly (readonly [string, number])[] = [
  ['Google Sheets', 4],
  ['PostgreSQL', 3],
  ['MySQL', 2],
  ['Stripe', 2],
  ['HubSpot', 1.5],
  ['Snowflake', 1.5],
  ['BigQuery', 1.5],
  ['Salesforce', 1],
  ['CSV Upload', 2]
]

const analytics: ProfileBehaviour = {
  onboarding(session) {
    const { user, state, random } = session
    const actions: Action[] = [{ event: 'Page Viewed', properties: { path: '/welcome', title: 'Connect your data' } }]
    if (random.chance([0.4, 0.7, 0.95, 1][SEGMENT_RANK[user.segment]])) {
      actions.push(connectSource(session))
      if (random.chance(0.5 + 0.5 * user.engagement)) {
        actions.push(createDashboard(session))
        const charts = random.int(1, 4)
        for (let i = 0; i < charts; i++) actions.push(createChart(session))
      }
    }
    return actions.map((action) => record(state, action))
  },
  next(session) {
    const { user, state, random } = session
    const e = user.engagement
    const sources = setOf(state, 'sources')
    const hasSource = sources.size > 0
    const dashboards = count(state, 'Dashboard Created')
    const choice = random.weighted<string>([
      ['Dashboard Viewed', dashboards > 0 ? 3 : 0],
      ['Page Viewed', dashboards > 0 ? 0.8 : 2],
      ['Data Source Connected', hasSource ? (user.adopts.has('second_source') && sources.size < 5 ? 0.3 : 0) : 2],
      ['Dashboard Created', hasSource ? (dashboards > 0 ? 0.6 * e * e : 2) : 0],
      ['Chart Created', dashboards > 0 ? 1.5 + 1.5 * e : 0],
      ['Dashboard Shared', dashboards > 0 && user.adopts.has('share') ? 0.35 : 0],
      ['Report Scheduled', dashboards > 0 && user.adopts.has('schedule') ? 0.2 : 0],
      ['API Key Created', user.adopts.has('api') && !state.seen.has('API Key Created') ? 0.5 : 0],
      ['API Call', user.adopts.has('api') && state.seen.has('API Key Created') ? 1.2 : 0],
      ['Data Exported', dashboards > 0 ? 0.2 + 0.6 * e * e : 0],
      ['SQL Query Run', hasSource && user.adopts.has('api') ? 2 : 0],
      ['Teammate Invited', canInvite(state) ? 0.3 + 1.2 * e : 0]
    ])
    let action: Action | undefined
    switch (choice) {
      case 'Dashboard Viewed':
        action = { event: 'Dashboard Viewed', properties: { dashboard_id: dashboardId(session) } }
        break
      case 'Page Viewed':
        action = { event: 'Page Viewed', properties: { path: random.pick(['/home', '/dashboards', '/data-sources', '/explore', '/settings']) } }
        break
      case 'Data Source Connected':
        action = connectSource(session)
        break
      case 'Dashboard Created':
        action = createDashboard(session)
        break
      case 'Chart Created':
        action = createChart(session)
        break
      case 'Dashboard Shared':
        action = { event: 'Dashboard Shared', properties: { dashboard_id: dashboardId(session), recipients: random.int(1, 4), access: random.pick(['view', 'edit']) } }
        break
      case 'Report Scheduled':
        action = { event: 'Report Scheduled', properties: { dashboard_id: dashboardId(session), frequency: random.weighted<string>([['weekly', 3], ['daily', 2], ['monthly', 1]]) } }
        break
      case 'API Key Created':
        action = { event: 'API Key Created', properties: { scope: random.pick(['read', 'read_write']) } }
        break
      case 'API Call':
        action = { event: 'API Call', properties: { calls: random.int(1, 50), endpoint: random.pick(['/v2/query', '/v2/dashboards', '/v2/export']) } }
        break
      case 'Data Exported':
        action = { event: 'Data Exported', properties: { format: random.weighted<string>([['csv', 4], ['xlsx', 2], ['pdf', 1.5], ['png', 0.5]]), rows: random.int(10, 50_000) } }
        break
      case 'SQL Query Run':
        action = { event: 'SQL Query Run', properties: { rows: random.int(0, 20_000), duration_ms: random.int(40, 9_000), saved: random.chance(0.3) } }
        break
      case 'Teammate Invited':
        action = invite(session)
        break
    }
    return action && record(state, action)
  }
}

function connectSource(session: Session): Action {
  const { state, random } = session
  const sources = setOf(state, 'sources')
  let source = random.weighted(DATA_SOURCES)
  for (let tries = 0; sources.has(source) && tries < 5; tries++) source = random.weighted(DATA_SOURCES)
  sources.add(source)
  return { event: 'Data Source Connected', properties: { source } }
}

function createDashboard(session: Session): Action {
  const { user, state, random } = session
  const n = count(state, 'Dashboard Created') + 1
  return { event: 'Dashboard Created', properties: { dashboard_id: `dsh_${user.index + 1}_${n}`, template: random.pick(['blank', 'blank', 'revenue', 'marketing', 'product']) } }
}

function createChart(session: Session): Action {
  const { random } = session
  return {
    event: 'Chart Created',
    properties: { dashboard_id: dashboardId(session), chart_type: random.weighted<string>([['line', 4], ['bar', 4], ['table', 3], ['number', 2], ['pie', 1], ['funnel', 1]]) }
  }
}

function dashboardId(session: Session): string {
  const { user, state, random } = session
  return `dsh_${user.index + 1}_${random.int(1, Math.max(1, count(state, 'Dashboard Created')))}`
}

const asyncVideo: ProfileBehaviour = {
  onboarding(session) {
    const { user, state, random } = session
    const actions: Action[] = [
      { event: 'App Installed', properties: { platform: random.weighted<string>([['chrome_extension', 5], ['mac', 3], ['windows', 2]]) } }
    ]
    if (random.chance([0.5, 0.8, 0.95, 1][SEGMENT_RANK[user.segment]])) {
      actions.push(recordVideo(session))
      if (random.chance(0.6 + 0.4 * user.engagement)) actions.push(shareVideo(session))
    }
    return actions.map((action) => record(state, action))
  },
  next(session) {
    const { user, state, random } = session
    const e = user.engagement
    const videos = count(state, 'Video Recorded')
    const teammates = user.company ? user.company.members.length > 1 : false
    const choice = random.weighted<string>([
      ['Video Recorded', 0.8 + 2.2 * e],
      ['Video Shared', videos > 0 ? 0.8 + e : 0],
      ['Video Viewed', teammates ? 1.2 : 0.2],
      ['Workspace Created', user.company && user.adopts.has('workspace') && !state.seen.has('Workspace Created') ? 0.25 : 0],
      ['Teammate Invited', canInvite(state) ? 0.3 + 1.4 * e : 0],
      ['Landing Page Branded', videos > 0 && user.adopts.has('branding') ? (state.seen.has('Landing Page Branded') ? 0.03 : 0.2) : 0],
      ['Page Viewed', 0.8]
    ])
    let action: Action | undefined
    switch (choice) {
      case 'Video Recorded':
        action = recordVideo(session)
        break
      case 'Video Shared':
        action = shareVideo(session)
        break
      case 'Video Viewed':
        action = {
          event: 'Video Viewed',
          properties: { video_id: `vid_${random.int(0, 9999)}`, view_rate: round2(Math.min(1, Math.max(0.05, random.normal(0.65, 0.2)))) }
        }
        break
      case 'Workspace Created':
        action = { event: 'Workspace Created', properties: { workspace_id: `ws_${user.company ? user.company.id : user.index}`, name: user.company ? user.company.name : `${user.firstname}'s workspace` } }
        break
      case 'Teammate Invited':
        action = invite(session)
        break
      case 'Landing Page Branded':
        action = { event: 'Landing Page Branded', properties: { logo: true, brand_color: random.pick(['#1f6feb', '#d73a49', '#2da44e', '#8250df', '#bf8700']) } }
        break
      case 'Page Viewed':
        action = { event: 'Page Viewed', properties: { path: random.pick(['/library', '/home', '/notifications', '/settings', '/insights']) } }
        break
    }
    return action && record(state, action)
  }
}

function recordVideo(session: Session): Action {
  const { user, state, random } = session
  const n = count(state, 'Video Recorded') + 1
  return {
    event: 'Video Recorded',
    properties: {
      video_id: `vid_${user.index + 1}_${n}`,
      duration_s: random.int(15, user.plan === 'paying' ? 1_800 : 300),
      mode: random.weighted<string>([['screen_and_camera', 5], ['screen', 4], ['camera', 1]])
    }
  }
}

function shareVideo(session: Session): Action {
  const { user, state, random } = session
  const videos = Math.max(1, count(state, 'Video Recorded'))
  const recipients = random.weighted<number>([
    [1, 6],
    [2, 3],
    [3, 0.4 + 1.2 * user.engagement],
    [4, 0.2 + 0.6 * user.engagement],
    [6, 0.1 + 0.5 * user.engagement],
    [10, 0.2 * user.engagement]
  ])
  // Views by the recipients: how much of the video each one watched.
  for (let i = 0; i < recipients; i++) {
    if (!random.chance(0.75)) continue
    state.viewCount++
    state.viewRateSum += Math.min(1, Math.max(0.02, random.normal(state.contentQuality, 0.18)))
  }
  return {
    event: 'Video Shared',
    properties: { video_id: `vid_${user.index + 1}_${random.int(1, videos)}`, recipients, channel: random.weighted<string>([['link', 4], ['email', 2], ['slack', 2], ['embed', 0.5]]) }
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100
}

const BEHAVIOURS: Record<Profile, ProfileBehaviour> = {
  'project-management': projectManagement,
  analytics,
  'async-video': asyncVideo
}

// ---------------------------------------------------------------------------------------
// The population

function checkOptions(options: GeneratorOptions): number {
  if (!PROFILES.includes(options.profile)) {
    throw new RangeError(`unknown profile ${JSON.stringify(options.profile)}: expected one of ${PROFILES.join(', ')}`)
  }
  if (!Number.isInteger(options.users) || options.users < 0) throw new RangeError('users must be a whole number ≥ 0')
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > 366) throw new RangeError('days must be a whole number from 1 to 366')
  if (!Number.isFinite(options.seed)) throw new RangeError('seed must be a finite number')
  const end = Date.parse(options.end)
  if (Number.isNaN(end)) throw new RangeError(`end must be an ISO 8601 date-time, got ${JSON.stringify(options.end)}`)
  return end
}

function pickSegment(random: Random, champion: boolean): Segment {
  const segment = random.weighted(SEGMENTS)
  if (!champion) return segment
  // A company's first user is the one who found the product: a little keener.
  const second = random.weighted(SEGMENTS)
  return SEGMENT_RANK[second] > SEGMENT_RANK[segment] ? second : segment
}

function buildPopulation(options: GeneratorOptions, random: Random): { users: User[]; companies: Company[] } {
  const total = options.users
  const freeMailUsers = Math.min(total, Math.round(total * random.between(0.16, 0.24)))
  let companyUsers = total - freeMailUsers

  // Company sizes: 2 to 8, small ones more often.
  const sizes: number[] = []
  while (companyUsers > 0) {
    let size = random.weighted<number>([[2, 3], [3, 3], [4, 2.5], [5, 2], [6, 1.5], [7, 1], [8, 1]])
    if (size > companyUsers) size = companyUsers
    if (size === 1 && sizes.length > 0 && sizes[sizes.length - 1] < 8) sizes[sizes.length - 1]++
    else sizes.push(size)
    companyUsers -= size
  }

  const usedDomains = new Set<string>()
  const usedEmails = new Set<string>()
  const companies: Company[] = sizes.map((_, i) => {
    let name = ''
    let domain = ''
    for (let tries = 0; tries < 50 && (domain === '' || usedDomains.has(domain)); tries++) {
      name = `${random.pick(COMPANY_WORDS)} ${random.pick(COMPANY_SUFFIXES)}`
      domain = `${slug(name)}.${random.weighted(TLDS)}`
      if (tries > 10) domain = `${slug(name)}${tries}.${random.weighted(TLDS)}`
    }
    usedDomains.add(domain)
    return {
      id: `co_${String(i + 1).padStart(4, '0')}`,
      name,
      domain,
      useDomainTrait: random.chance(0.5),
      plan: random.weighted<string>([['free', 7], ['trial', 2], ['paying', 1]]),
      employees: random.pick(EMPLOYEES),
      members: []
    }
  })

  // One slot per user: a company or none (free mail); shuffled so ids don't follow companies.
  const slots: (Company | undefined)[] = []
  companies.forEach((company, i) => {
    for (let k = 0; k < sizes[i]; k++) slots.push(company)
  })
  for (let k = 0; k < freeMailUsers; k++) slots.push(undefined)
  random.shuffle(slots)

  const users = slots.map((company, index): User => {
    const userRandom = random.fork(index + 1)
    const champion = company !== undefined && company.members.length === 0
    const segment = pickSegment(userRandom, champion)
    const [low, high] = ENGAGEMENT[segment]
    const firstname = userRandom.pick(FIRST_NAMES)
    const lastname = userRandom.pick(LAST_NAMES)
    let email = ''
    for (let n = 0; email === '' || usedEmails.has(email.toLowerCase()); n++) {
      const suffix = n === 0 ? '' : String(n + 1)
      if (company) {
        email = userRandom.chance(0.85) || n > 0 ? `${slug(firstname)}.${slug(lastname)}${suffix}@${company.domain}` : `${slug(firstname)}@${company.domain}`
      } else {
        email = `${slug(firstname)}${userRandom.pick(['', '.', '_'])}${slug(lastname)}${suffix || (userRandom.chance(0.5) ? String(userRandom.int(1, 99)) : '')}@${userRandom.weighted(FREE_MAIL)}`
      }
    }
    usedEmails.add(email.toLowerCase())
    // A few people type their address with capitals; the core lower-cases it.
    if (userRandom.chance(0.04)) email = email.replace(/^[a-z]/, (c) => c.toUpperCase())
    const user: User = {
      index,
      userId: `usr_${String(index + 1).padStart(5, '0')}`,
      email,
      firstname,
      lastname,
      jobtitle: userRandom.chance(0.85) ? userRandom.pick(JOB_TITLES[options.profile]) : undefined,
      plan: company ? (company.plan === 'paying' ? 'paying' : company.plan) : userRandom.weighted<string>([['free', 85], ['trial', 15]]),
      company,
      segment,
      engagement: userRandom.between(low, high),
      adopts: new Set(
        (Object.entries(ADOPTION[options.profile]) as [Feature, readonly number[]][])
          .filter(([, chances]) => userRandom.chance(chances[SEGMENT_RANK[segment]]))
          .map(([feature]) => feature)
      ),
      utcOffsetHours: userRandom.weighted<number>([[-8, 2], [-5, 3], [0, 2], [1, 3], [2, 1], [5.5, 1], [8, 1], [9, 0.5], [10, 0.5]]),
      signupDay: 0,
      lastActiveDay: 0,
      invitees: [],
      extraInvites: 0,
      random: userRandom
    }
    company?.members.push(user)
    return user
  })

  for (const user of users) {
    const r = user.random
    user.extraInvites = { tourist: 0, casual: r.chance(0.1) ? 1 : 0, engaged: r.chance(0.5) ? r.int(1, 2) : 0, power: r.int(1, 4) }[user.segment]
  }
  // Champions invite some of their colleagues; keener champions invite more of them.
  for (const company of companies) {
    const [champion, ...colleagues] = company.members
    for (const colleague of colleagues) {
      if (champion.random.chance(0.05 + 0.5 * champion.engagement)) champion.invitees.push(colleague)
    }
  }
  return { users, companies }
}

/** The last day a user is active: tourists and churned users stop early. */
function lastActiveDay(user: User, days: number): number {
  const r = user.random
  const s = user.signupDay
  let last = days - 1
  switch (user.segment) {
    case 'tourist':
      last = s + (r.chance(0.3) ? r.int(1, 3) : 0)
      break
    case 'casual':
      if (r.chance(0.45)) last = s + r.int(2, 14)
      break
    case 'engaged':
      if (r.chance(0.25)) last = s + r.int(5, 20)
      break
    case 'power':
      if (r.chance(0.08)) last = s + r.int(7, 25)
      break
  }
  return Math.min(last, days - 1)
}

function dailyActivity(user: User): number {
  return { tourist: 0.3, casual: 0.12 + 0.35 * user.engagement, engaged: 0.2 + 0.5 * user.engagement, power: 0.25 + 0.6 * user.engagement }[user.segment]
}

// ---------------------------------------------------------------------------------------
// Timelines

type Context = {
  options: GeneratorOptions
  behaviour: ProfileBehaviour
  start: number
  end: number
}

/** Session start times (ms) on `day`, in the user's local working hours, sorted and apart. */
function sessionStarts(ctx: Context, user: User, day: number, sessions: number): number[] {
  const r = user.random
  const dayStart = ctx.start + day * DAY_MS
  const starts: number[] = []
  for (let i = 0; i < sessions; i++) {
    const localHour = r.weighted<number>([[8, 1], [9, 3], [10, 3], [11, 3], [13, 2], [14, 3], [15, 3], [16, 2], [17, 1.5], [19, 0.7], [21, 0.5]])
    const utcHour = localHour - user.utcOffsetHours
    const offset = ((utcHour * HOUR_MS + r.int(0, 59) * MINUTE_MS + r.int(0, 59_999)) % DAY_MS + DAY_MS) % DAY_MS
    starts.push(dayStart + Math.min(offset, DAY_MS - 3 * HOUR_MS))
  }
  starts.sort((a, b) => a - b)
  for (let i = 1; i < starts.length; i++) {
    if (starts[i] < starts[i - 1] + 40 * MINUTE_MS) starts[i] = starts[i - 1] + 40 * MINUTE_MS + r.int(0, 20 * MINUTE_MS)
  }
  return starts
}

function simulateUser(ctx: Context, user: User): Draft[] {
  const r = user.random
  const drafts: Draft[] = []
  const state: UserState = {
    counts: new Map(),
    seen: new Set(),
    sets: new Map(),
    pendingInvitees: [...user.invitees],
    extraInvitesLeft: user.extraInvites,
    viewCount: 0,
    viewRateSum: 0,
    contentQuality: r.between(0.3, 0.75)
  }
  const company = user.company
  const groupTraits = (plan: string): Record<string, unknown> =>
    company
      ? {
          name: company.name,
          ...(company.useDomainTrait ? { domain: company.domain } : { website: `https://www.${company.domain}` }),
          plan,
          employees: company.employees
        }
      : {}

  let lastAvgReported: number | undefined
  for (let day = user.signupDay; day <= user.lastActiveDay; day++) {
    const signup = day === user.signupDay
    const isWeekend = [0, 6].includes(new Date(ctx.start + day * DAY_MS + 12 * HOUR_MS).getUTCDay())
    const honeymoon = day - user.signupDay <= 3 ? 1.4 : 1
    const p = Math.min(0.95, dailyActivity(user) * honeymoon * (isWeekend ? 0.3 : 1))
    if (!signup && !r.chance(p)) continue

    const sessionCount = 1 + (r.chance(user.engagement * 0.7) ? 1 : 0) + (r.chance(user.engagement * 0.35) ? 1 : 0)
    const starts = sessionStarts(ctx, user, day, sessionCount)
    if (signup && user.earliestSignup !== undefined && starts[0] < user.earliestSignup) {
      // Invited this morning: the sessions move after the invitation.
      const shift = user.earliestSignup - starts[0]
      for (let i = 0; i < starts.length; i++) starts[i] = Math.min(starts[i] + shift, ctx.end - HOUR_MS + i * MINUTE_MS)
    }
    const session: Session = { user, state, random: r }
    let lastAt = 0
    starts.forEach((start, s) => {
      let at = start
      if (signup && s === 0) {
        drafts.push({
          at,
          type: 'identify',
          traits: {
            email: user.email,
            firstname: user.firstname,
            lastname: user.lastname,
            ...(user.jobtitle ? { jobtitle: user.jobtitle } : {}),
            plan: user.plan,
            created_at: new Date(at).toISOString()
          }
        })
        if (company) {
          at += r.int(150, 900)
          drafts.push({ at, type: 'group', groupId: company.id, traits: groupTraits(company.plan) })
        }
      }
      if (user.upgradeDay === day && s === 0) {
        at += r.int(1_000, 5_000)
        drafts.push({ at, type: 'identify', traits: { email: user.email, plan: 'paying' } })
        if (company) {
          at += r.int(150, 900)
          drafts.push({ at, type: 'group', groupId: company.id, traits: groupTraits('paying') })
        }
        user.plan = 'paying'
      }
      const actions: Action[] = []
      if (signup && s === 0) actions.push(...ctx.behaviour.onboarding(session))
      else {
        const steps = 1 + Math.floor(r.next() * (1.5 + 5.5 * user.engagement))
        for (let i = 0; i < steps; i++) {
          const action = ctx.behaviour.next(session)
          if (action) actions.push(action)
        }
      }
      for (const action of actions) {
        at += r.int(2_000, 150_000)
        drafts.push({ at, type: 'track', event: action.event, properties: action.properties })
        if (action.invitee) action.invitee.invitedAt = at
      }
      lastAt = Math.max(lastAt, at)
    })

    // async-video: the product reports the average view rate of the user's videos.
    if (ctx.options.profile === 'async-video' && state.viewCount > 0) {
      const average = round2(state.viewRateSum / state.viewCount)
      if (average !== lastAvgReported) {
        lastAvgReported = average
        drafts.push({ at: lastAt + r.int(1, 4) * HOUR_MS, type: 'identify', traits: { email: user.email, avg_view_rate: average } })
      }
    }
  }
  return drafts.filter((draft) => draft.at < ctx.end)
}

function toMessages(user: User, drafts: Draft[], ids: Random, counter: { next: number }): SegmentMessage[] {
  const r = user.random
  return drafts.map((draft): SegmentMessage => {
    const message: SegmentMessage = {
      type: draft.type,
      messageId: uuidFrom(ids, counter.next++),
      timestamp: new Date(draft.at).toISOString(),
      userId: user.userId
    }
    if (draft.type === 'track') {
      message.event = draft.event
      message.properties = draft.properties ?? {}
      const context: NonNullable<SegmentMessage['context']> = {}
      if (r.chance(EMAIL_ON_TRACK)) context.traits = { email: user.email }
      if (user.company) context.groupId = user.company.id
      if (context.traits || context.groupId) message.context = context
    } else if (draft.type === 'identify') {
      message.traits = draft.traits
      // The app knows the user's workspace when it identifies them: without the group id
      // here, a model with `company_from_email` would key this call's company by domain.
      if (user.company) message.context = { groupId: user.company.id }
    } else {
      message.groupId = draft.groupId
      message.traits = draft.traits
    }
    return message
  })
}

/**
 * Synthetic Segment-spec messages for `options.users` users over `options.days` days
 * ending (exclusive) at `options.end`, sorted by timestamp, then messageId. Deterministic:
 * the same options give the same messages.
 */
export function generateEvents(options: GeneratorOptions): SegmentMessage[] {
  return generateStream(options).messages
}

function generateStream(options: GeneratorOptions): { messages: SegmentMessage[]; users: User[]; draftsByUser: Map<User, Draft[]>; ctx: Context; root: Random } {
  const end = checkOptions(options)
  const root = new Random(hashSeed(options.seed, PROFILES.indexOf(options.profile)))
  const ctx: Context = { options, behaviour: BEHAVIOURS[options.profile], start: end - options.days * DAY_MS, end }
  const { users, companies } = buildPopulation(options, root.fork(0x5eed))
  const days = options.days

  const draftsByUser = new Map<User, Draft[]>()
  const simulate = (user: User) => {
    user.lastActiveDay = lastActiveDay(user, days)
    const r = user.random
    if ((user.segment === 'engaged' || user.segment === 'power') && user.plan !== 'paying') {
      const upgrades = user.plan === 'trial' ? r.chance(0.35) : r.chance(0.06)
      const day = user.signupDay + r.int(4, 16)
      if (upgrades && day <= user.lastActiveDay) user.upgradeDay = day
    }
    draftsByUser.set(user, simulateUser(ctx, user))
  }

  // Champions first: the colleagues they invite sign up a day or two after the invitation;
  // the others find the product on their own, after the champion.
  for (const company of companies) {
    const [champion, ...colleagues] = company.members
    champion.signupDay = Math.min(days - 1, Math.floor(days * Math.pow(champion.random.next(), 1.3)))
    simulate(champion)
    for (const colleague of colleagues) {
      const r = colleague.random
      if (colleague.invitedAt !== undefined) {
        // Most accept the invitation the same day or the next; a few take a while.
        const invitedDay = Math.floor((colleague.invitedAt - ctx.start) / DAY_MS)
        const delay = r.weighted<number>([[0, 4], [1, 3], [2, 1.5], [4, 0.5]])
        colleague.signupDay = Math.min(days - 1, invitedDay + delay)
        if (colleague.signupDay === invitedDay) colleague.earliestSignup = colleague.invitedAt + r.int(5, 180) * MINUTE_MS
      } else {
        colleague.signupDay = r.int(champion.signupDay, days - 1)
      }
      simulate(colleague)
    }
  }
  for (const user of users) {
    if (user.company) continue
    user.signupDay = Math.min(days - 1, Math.floor(days * user.random.next()))
    simulate(user)
  }

  const ids = root.fork(0x1d5)
  const counter = { next: 1 }
  const messages: SegmentMessage[] = []
  for (const user of users) messages.push(...toMessages(user, draftsByUser.get(user) ?? [], ids, counter))
  messages.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0))
  return { messages, users, draftsByUser, ctx, root }
}

// ---------------------------------------------------------------------------------------
// Outcomes: who converted, by a known rule

/** One row of an outcomes CSV: the user's email and when they converted (absent: not yet). */
export type GeneratedOutcome = { email: string; convertedAt?: string }

/**
 * The ground truth of the outcomes mode: a user who has done none of the favoured track
 * events converts with probability BASE_CONVERSION; each favoured event they have done
 * multiplies the odds by ODDS_FACTOR (two favoured events: 3% → 24% → 76%). Nothing else
 * about the user matters. A converter converts 1 to 7 days after the later of signing up and
 * first doing the last favoured event they did; one whose day falls after the period has not
 * converted yet.
 */
export const BASE_CONVERSION = 0.03
export const ODDS_FACTOR = 10

/** The favoured events of each profile when none are given: two of its depth signals. */
export const DEFAULT_FAVOURED: Record<Profile, readonly string[]> = {
  'project-management': ['Integration Connected', 'Advanced Filter Used'],
  analytics: ['Dashboard Shared', 'SQL Query Run'],
  'async-video': ['Workspace Created', 'Landing Page Branded']
}

/**
 * The same messages as `generateEvents(options)` (byte for byte: outcomes draw from their
 * own seeded stream) and, for every user, an outcome drawn from the ground truth above.
 * Throws a RangeError for a favoured event no user ever does.
 */
export function generateOutcomes(
  options: GeneratorOptions,
  favoured: readonly string[] = DEFAULT_FAVOURED[options.profile]
): { messages: SegmentMessage[]; outcomes: GeneratedOutcome[] } {
  const { messages, users, draftsByUser, ctx, root } = generateStream(options)
  if (favoured.length === 0) throw new RangeError('the outcomes need at least one favoured event')
  const done = new Set(messages.filter((message) => message.type === 'track').map((message) => message.event))
  const never = favoured.filter((event) => !done.has(event))
  if (never.length > 0) throw new RangeError(`no user does ${never.map((event) => JSON.stringify(event)).join(', ')} in this ${options.profile} stream`)
  const random = root.fork(0x0c7c0e)
  const baseOdds = BASE_CONVERSION / (1 - BASE_CONVERSION)
  const outcomes = users.map((user): GeneratedOutcome => {
    const r = random.fork(user.index + 1)
    const drafts = draftsByUser.get(user) ?? []
    const signedUp = drafts.length > 0 ? drafts[0].at : ctx.start + user.signupDay * DAY_MS
    let reached = signedUp
    let favouredDone = 0
    for (const event of favoured) {
      const first = drafts.find((draft) => draft.type === 'track' && draft.event === event)
      if (!first) continue
      favouredDone++
      reached = Math.max(reached, first.at)
    }
    const odds = baseOdds * ODDS_FACTOR ** favouredDone
    const converts = r.chance(odds / (1 + odds))
    const convertedAt = reached + r.int(1, 7) * DAY_MS + r.int(0, DAY_MS - 1)
    return converts && convertedAt < ctx.end ? { email: user.email, convertedAt: new Date(convertedAt).toISOString() } : { email: user.email }
  })
  return { messages, outcomes }
}
