-- observed rates are probabilities; minutes and case values are not negative
select
    practice_slug,
    lead_conversion,
    p_refer_given_asked,
    avg_case_value
from mart_practice_rates
where
    lead_conversion not between 0 and 1
    or p_refer_given_asked is null
    or p_refer_given_asked not between 0 and 1
    or avg_case_value < 0
    or least(
        median_minutes_ask, median_minutes_follow_up, median_minutes_contact_lead,
        median_minutes_close_loop, median_minutes_review_request
    ) < 0
