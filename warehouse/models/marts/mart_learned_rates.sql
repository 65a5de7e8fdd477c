-- grain: one row per learned cell: the queue's estimate of a rate from the agency's own calls
-- key: measure, cell_group, band
-- Each cell is a beta-binomial estimate shrunk towards its prior (stg_seed__queue_priors):
-- estimate = (successes + 20 × prior) / (trials + 20); 20 = console.scoring.priority.PRIOR_STRENGTH.
-- answer_attempt (kind, attempt 1/2/3+): the call was answered (not no_answer / voicemail);
--   attempt = 1 + earlier calls to the same person in the 30 days before.
-- answer_hour (patient/lead, local hour 0..23 in the practice's zone) and answer_all.
-- willing_satisfaction (satisfaction band) / willing_category (treatment category) /
--   willing_all: an answered ask or follow-up was willing (willing_no_name or referred).
-- names_friend: a willing call named a friend (referred).
-- lead_answer_delay (hours since referral): a contact_lead call was answered.
-- lead_book: an answered contact_lead call booked (lead_booked).
-- team_hour (UTC hour 0..23): of the team's last 20 calling days (UTC dates with a
--   coordinator call; trials), the days with a call started in that hour (successes).

with priors as (
    select * from stg_seed__queue_priors
),

practices as (
    select
        practice_slug,
        timezone
    from stg_canonical__practices
),

calls as (
    select
        touches.touch_id,
        touches.practice_slug,
        touches.task_id,
        touches.task_kind,
        touches.disposition,
        touches.started_at,
        coalesce(touches.lead_id, touches.patient_id) as person_id,
        case when touches.lead_id is not null then 'lead' else 'patient' end as person_type,
        touches.patient_id,
        touches.lead_id,
        cast(
            extract(hour from timezone(coalesce(practices.timezone, 'UTC'), touches.started_at))
            as integer
        ) as local_hour,
        touches.disposition not in ('no_answer', 'voicemail', 'wrong_number') as answered,
        cast(timezone('UTC', touches.started_at) as date) as utc_day,
        cast(extract(hour from timezone('UTC', touches.started_at)) as integer) as utc_hour
    from stg_ops__touches as touches
    left join practices on touches.practice_slug = practices.practice_slug
    where
        touches.channel = 'call' and touches.coordinator_id is not null
        and touches.task_kind is not null and touches.disposition is not null
),

attempts as (
    select
        calls.*,
        count(*) over (
            partition by calls.practice_slug, calls.person_type, calls.person_id
            order by calls.started_at
            range between interval 30 days preceding and current row
        ) as attempt
    from calls
),

asks as (
    select
        attempts.*,
        patients.satisfaction_score,
        treatments.category,
        attempts.disposition in ('willing_no_name', 'referred') as willing
    from attempts
    left join stg_ops__tasks as tasks on attempts.task_id = tasks.task_id
    left join stg_canonical__patients as patients
        on
            attempts.practice_slug = patients.practice_slug
            and attempts.patient_id = patients.patient_id
    left join stg_canonical__treatments as treatments
        on
            attempts.practice_slug = treatments.practice_slug
            and tasks.treatment_id = treatments.treatment_id
    where
        attempts.task_kind in ('ask', 'follow_up')
        and attempts.disposition in ('willing_no_name', 'referred', 'declined')
),

lead_calls as (
    select
        attempts.*,
        date_diff('second', leads.referred_at, attempts.started_at) / 3600.0 as hours_since
    from attempts
    inner join int_leads_outcomes as leads
        on attempts.practice_slug = leads.practice_slug and attempts.lead_id = leads.lead_id
    where attempts.task_kind = 'contact_lead'
),

team_days as (
    select distinct calls.utc_day
    from calls
    order by calls.utc_day desc
    limit 20
),

team_hours as (
    select distinct
        calls.utc_day,
        calls.utc_hour
    from calls
    inner join team_days on calls.utc_day = team_days.utc_day
),

evidence as (
    select
        'answer_attempt' as measure,
        task_kind as cell_group,
        cast(least(attempt, 3) as varchar) as band,
        count(*) filter (where answered) as successes,
        count(*) as trials
    from attempts
    group by all
    union all
    select
        'answer_hour' as measure,
        person_type as cell_group,
        cast(local_hour as varchar) as band,
        count(*) filter (where answered) as successes,
        count(*) as trials
    from attempts
    group by all
    union all
    select
        'answer_all' as measure,
        person_type as cell_group,
        'all' as band,
        count(*) filter (where answered) as successes,
        count(*) as trials
    from attempts
    group by all
    union all
    select
        'willing_satisfaction' as measure,
        'patient' as cell_group,
        case
            when satisfaction_score is null then 'unknown'
            when satisfaction_score <= 4 then '0-4'
            when satisfaction_score <= 6 then '5-6'
            when satisfaction_score <= 8 then '7-8'
            else '9-10'
        end as band,
        count(*) filter (where willing) as successes,
        count(*) as trials
    from asks
    group by all
    union all
    select
        'willing_category' as measure,
        'patient' as cell_group,
        category as band,
        count(*) filter (where willing) as successes,
        count(*) as trials
    from asks
    where category is not null
    group by all
    union all
    select
        'willing_all' as measure,
        'patient' as cell_group,
        'all' as band,
        count(*) filter (where willing) as successes,
        count(*) as trials
    from asks
    group by all
    union all
    select
        'names_friend' as measure,
        'patient' as cell_group,
        'all' as band,
        count(*) filter (where disposition = 'referred') as successes,
        count(*) as trials
    from asks
    where willing
    group by all
    union all
    select
        'lead_answer_delay' as measure,
        'lead' as cell_group,
        case
            when hours_since < 4 then '0-4h' when hours_since < 24 then '4-24h'
            when hours_since < 72 then '24-72h' else '72h+'
        end as band,
        count(*) filter (where answered) as successes,
        count(*) as trials
    from lead_calls
    group by all
    union all
    select
        'lead_book' as measure,
        'lead' as cell_group,
        'all' as band,
        count(*) filter (where disposition = 'lead_booked') as successes,
        count(*) as trials
    from lead_calls
    where answered and disposition in ('lead_booked', 'lead_declined', 'callback_requested')
    group by all
    union all
    select
        'team_hour' as measure,
        'team' as cell_group,
        cast(team_hours.utc_hour as varchar) as band,
        count(*) as successes,
        (select count(*) from team_days) as trials
    from team_hours
    group by all
),

cells as (
    select
        priors.measure,
        priors.cell_group,
        priors.band,
        priors.prior
    from priors
    union all
    -- categories are the data's own; their prior is the overall willingness prior
    select distinct
        'willing_category' as measure,
        'patient' as cell_group,
        evidence.band,
        priors.prior
    from evidence
    inner join priors on priors.measure = 'willing_all'
    where evidence.measure = 'willing_category'
),

final as (
    select
        cast(cells.measure as varchar) as measure,                          -- see above
        cast(cells.cell_group as varchar) as cell_group,                    -- kind or person type
        cast(cells.band as varchar) as band,                                -- the cell's band
        cast(coalesce(evidence.successes, 0) as bigint) as successes,       -- calls that did
        cast(coalesce(evidence.trials, 0) as bigint) as trials,             -- evidence count
        cast(cells.prior as double) as prior,                               -- today's constant
        cast(
            (coalesce(evidence.successes, 0) + 20.0 * cells.prior)
            / (coalesce(evidence.trials, 0) + 20.0) as double
        ) as estimate                                                       -- shrunk estimate
    from cells
    left join evidence
        on
            cells.measure = evidence.measure
            and cells.cell_group = evidence.cell_group
            and cells.band = evidence.band
)

select * from final
