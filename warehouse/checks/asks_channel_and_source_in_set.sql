-- every ask has a known channel and source
select
    practice_slug,
    patient_id,
    source,
    source_id,
    channel
from int_asks
where
    channel not in ('call', 'sms', 'email')
    or source not in ('call', 'message')
    or (willing and not reached)
