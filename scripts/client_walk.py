"""A client author's first walk through the API, made with the Python client that
openapi-python-client generated from the served /openapi.json (scripts/client.sh does both).

Fails on any status the document does not declare (raise_on_unexpected_status), any answer the
generated models cannot parse, and any step whose answer is not the success it should be.

    python3 scripts/client_walk.py http://127.0.0.1:8080 /path/to/dir/holding/lms_client
"""

import sys
import uuid

base_url, client_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, client_dir)

from lms_client import AuthenticatedClient, Client  # noqa: E402
from lms_client.api.auth import login, register  # noqa: E402
from lms_client.api.chat import list_course_messages, post_message  # noqa: E402
from lms_client.api.courses import get_course, list_courses  # noqa: E402
from lms_client.api.enrollments import enroll_in_course, list_my_enrollments  # noqa: E402
from lms_client.api.health import check_readiness  # noqa: E402
from lms_client.api.users import get_me  # noqa: E402
from lms_client.models import (  # noqa: E402
    CourseListResponse,
    CourseResponse,
    EnrollmentListResponse,
    EnrollmentResponse,
    LoginRequest,
    MessagePage,
    MessageView,
    NewMessage,
    Readiness,
    RegisterRequest,
    TokenResponse,
    UserResponse,
)


def expect(step, response, status, model):
    """The answer of `step` has `status` and parsed into `model`."""
    if response.status_code != status or not isinstance(response.parsed, model):
        raise SystemExit(
            f"{step}: expected {status} {model.__name__}, got {response.status_code}: "
            f"{response.content[:500]!r}"
        )
    print(f"ok  {step}: {status}")
    return response.parsed


anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
expect("checkReadiness", check_readiness.sync_detailed(client=anonymous), 200, Readiness)

name = "walker" + uuid.uuid4().hex[:8]
password = "seven blue kites over quiet harbours"
registered = register.sync_detailed(
    client=anonymous,
    body=RegisterRequest(
        email=f"{name}@example.com",
        username=name,
        password=password,
        first_name="Grace",
        last_name="Hopper",
    ),
    idempotency_key=uuid.uuid4().hex,
)
expect("register", registered, 201, UserResponse)

signed_in = login.sync_detailed(
    client=anonymous, body=LoginRequest(login=name, password=password)
)
tokens = expect("login", signed_in, 200, TokenResponse)
me = AuthenticatedClient(
    base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True
)
profile = expect("getMe", get_me.sync_detailed(client=me), 200, UserResponse)
assert profile.username == name, profile

catalog = expect(
    "listCourses", list_courses.sync_detailed(client=anonymous, free=True, limit=5), 200,
    CourseListResponse,
)
if not catalog.items:
    raise SystemExit("listCourses: the seeded catalog has no free course")
course_id = catalog.items[0].id
expect("getCourse", get_course.sync_detailed(str(course_id), client=anonymous), 200, CourseResponse)

enrolled = enroll_in_course.sync_detailed(course_id, client=me, idempotency_key=uuid.uuid4().hex)
enrollment = expect("enrollInCourse", enrolled, 201, EnrollmentResponse)
assert enrollment.status == "active", enrollment.status

mine = expect(
    "listMyEnrollments", list_my_enrollments.sync_detailed(client=me), 200,
    EnrollmentListResponse,
)
assert any(e.id == enrollment.id for e in mine.items), mine

text = f"hello from the generated client ({name})"
posted = post_message.sync_detailed(
    course_id, client=me, body=NewMessage(content=text), idempotency_key=uuid.uuid4().hex
)
message = expect("postMessage", posted, 201, MessageView)

history = expect(
    "listCourseMessages", list_course_messages.sync_detailed(course_id, client=me), 200,
    MessagePage,
)
assert any(m.id == message.id and m.content == text for m in history.items), history

print("the generated client walked register, login, catalog, enroll, chat post and read")
